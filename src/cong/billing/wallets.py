"""Wallet holds and settlement: reserve the worst case, settle exactly once, release the
rest; top-ups, adjustments and refunds. All amounts are integer micro-units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from cong.accounts.principal import Principal
from cong.billing.pricing import FREE, Prices, PriceSheet, Usage, cost_of
from cong.protocol.errors import APIError, invalid_request, not_found, permission_denied
from cong.storage import wallets as q
from cong.storage.database import Database
from cong.storage.tables import User

LEDGER_KINDS = (
    "topup",
    "redemption",
    "reservation",
    "release",
    "settlement",
    "adjustment",
    "refund",
)


def money(amount: int) -> str:
    """Micro-units as a decimal string: 1_500_000 -> '1.500000'."""
    sign = "-" if amount < 0 else ""
    whole, micro = divmod(abs(amount), 1_000_000)
    return f"{sign}{whole}.{micro:06d}"


def insufficient(message: str) -> APIError:
    return APIError(
        402,
        message,
        type="insufficient_quota",
        code="insufficient_quota",
        headers={"x-should-retry": "false"},
    )


def current_period(period: str | None, now: datetime) -> str:
    return now.strftime("%Y-%m") if period == "month" else now.strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class Hold:
    """What admission reserved for one request."""

    request_id: str
    user_id: int
    key_pk: int | None
    key_id: str
    amount: int
    price: PriceSheet
    multiplier_ppm: int

    def cost(self, usage: Usage) -> int:
        return cost_of(self.price, usage, self.multiplier_ppm)


class Wallets:
    def __init__(self, db: Database, prices: Prices, *, unpriced: str = "free") -> None:
        self._db = db
        self.prices = prices
        self._unpriced = unpriced

    async def price_for(self, model: str) -> PriceSheet:
        price = await self.prices.get(model)
        if price is not None:
            return price
        if self._unpriced == "free":
            return FREE
        raise permission_denied(
            f"The model `{model}` has no price yet; ask the administrator to set one.",
            code="model_not_priced",
        )

    async def hold(self, principal: Principal, request_id: str, model: str, worst: Usage) -> Hold:
        """Reserve the worst-case cost, or answer 402 naming the limit that was hit."""
        price = await self.price_for(model)
        amount = cost_of(price, worst, principal.multiplier_ppm)
        hold = Hold(
            request_id,
            principal.user_id,
            principal.key_pk,
            principal.key_id,
            amount,
            price,
            principal.multiplier_ppm,
        )
        if amount == 0:
            return hold
        async with self._db.engine.begin() as conn:
            if principal.key_pk is not None:
                # Every key tracks what it has on hold and has spent; caps are checked in
                # the same conditional update when the key has any.
                if principal.key_period:
                    period = current_period(principal.key_period, datetime.now(UTC))
                    await q.roll_key_period(conn, principal.key_pk, period)
                if not await q.hold_key_cap(conn, principal.key_pk, amount):
                    raise insufficient(
                        "This API key has reached its spend cap: the request may cost up to "
                        f"{money(amount)} and the key's remaining allowance is smaller. Raise "
                        "the key's cap or use another key."
                    )
            if not await q.debit_wallet(conn, principal.user_id, amount):
                raise insufficient(
                    "Insufficient balance in your wallet: the request may cost up to "
                    f"{money(amount)}, more than your balance plus credit limit. Top up or "
                    "lower max_tokens."
                )
            await q.add_entry(
                conn,
                principal.user_id,
                "reservation",
                -amount,
                request_id=request_id,
                key_id=principal.key_id,
            )
            await q.add_reservation(conn, request_id, principal.user_id, principal.key_pk, amount)
        return hold

    async def settle(self, hold: Hold, usage: Usage, note: str = "") -> int:
        """Charge what was used (never more than was held) and release the rest. Runs at
        most once per request id; later calls change nothing. Returns the charge."""
        if hold.amount == 0:
            return 0
        charge = min(hold.cost(usage), hold.amount)
        return await self._settle(hold.request_id, charge, note)

    async def release(self, hold: Hold, note: str = "") -> None:
        if hold.amount:
            await self._settle(hold.request_id, 0, note)

    async def _settle(self, request_id: str, charge: int, note: str) -> int:
        try:
            async with self._db.engine.begin() as conn:
                reservation = await q.take_reservation(conn, request_id)
                if reservation is None:
                    return 0
                held = reservation.amount
                charge = min(charge, held)
                # Lock order as in hold(): the key row first, then the user row.
                if reservation.key_pk is not None:
                    await q.release_key_hold(conn, reservation.key_pk, held, charge)
                await q.credit_wallet(conn, reservation.user_id, held - charge)
                user = reservation.user_id
                await q.add_entries(
                    conn,
                    [
                        {
                            "user_id": user,
                            "kind": "release",
                            "amount": held,
                            "request_id": request_id,
                            "note": note,
                        },
                        {
                            "user_id": user,
                            "kind": "settlement",
                            "amount": -charge,
                            "request_id": request_id,
                            "note": note,
                        },
                    ],
                )
                return charge
        except IntegrityError:  # settled concurrently by another path
            return 0

    async def sweep(self, older_than_seconds: float) -> int:
        """Release reservations older than the TTL (a crashed worker loses no money)."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        async with self._db.session() as session:
            stale = await q.stale_reservations(session, cutoff)
        for request_id in stale:
            await self._settle(request_id, 0, "released by the sweeper")
        return len(stale)

    async def credit(self, user_id: int, amount: int, kind: str, note: str = "") -> int:
        """Top-up, adjustment (either sign) or refund; returns the new balance."""
        if kind not in ("topup", "adjustment", "refund", "redemption"):
            raise invalid_request(f"Unknown ledger kind '{kind}'.", param="kind")
        if kind != "adjustment" and amount <= 0:
            raise invalid_request("The amount must be positive.", param="amount")
        async with self._db.session() as session, session.begin():
            user = await session.get(User, user_id)
            if user is None:
                raise not_found("No such user.")
            await q.credit_wallet(session, user_id, amount)
            await q.add_entry(session, user_id, kind, amount, note=note)
            await session.flush()
            await session.refresh(user)
            return user.balance

"""Wallet holds and settlement: reserve the worst case, settle exactly once, release the
rest; top-ups, adjustments and refunds. All amounts are integer micro-units."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cong.accounts.principal import Principal
from cong.billing.pricing import FREE, Prices, PriceSheet, Usage, cost_of
from cong.money import MAX_AMOUNT
from cong.protocol.errors import APIError, invalid_request, not_found, permission_denied
from cong.storage import wallets as q
from cong.storage.database import Database
from cong.storage.tables import User
from cong.storage.wallet_ops import (
    ALREADY,
    DUPLICATE,
    HELD,
    HOLD,
    KEY_CAP,
    NO_FUNDS,
    SETTLE,
    SWEEP,
    WalletOp,
    WalletStoreError,
)

log = logging.getLogger("cong.wallets")
HOLD_TIMEOUT = 5.0  # seconds a hold may wait for the database before the answer is 503
SETTLE_RETRIES = (0.2, 1.0, None)  # waits between attempts; None: give up (503)
ABANDONED_AGAIN = 1.0  # a lone hold cut short is swept at once and this much later

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


def unavailable() -> APIError:
    """The billing database is not answering: nothing is served unbilled."""
    return APIError(
        503,
        "Billing is temporarily unavailable; retry shortly.",
        type="server_error",
        code="billing_unavailable",
        headers={"retry-after": "2"},
    )


def _ignore_result(future: asyncio.Future[int]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: the sweeper releases what this could not


def _abandoned(hold: Hold) -> WalletOp:
    """Releases ``hold`` if it was taken (a no-op otherwise): for a request that gave up
    on its hold's answer."""
    return WalletOp(SETTLE, hold.request_id, hold.user_id, hold.key_pk, note="abandoned")


def current_period(period: str | None, now: datetime) -> str:
    if period == "month":
        return f"{now.year:04d}-{now.month:02d}"
    return f"{now.year:04d}-{now.month:02d}-{now.day:02d}"  # strftime costs ~3x this


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
    capped: bool = True

    def cost(self, usage: Usage) -> int:
        return cost_of(self.price, usage, self.multiplier_ppm)


class Wallets:
    def __init__(
        self,
        db: Database,
        prices: Prices,
        *,
        unpriced: str = "free",
        hold_timeout: float = HOLD_TIMEOUT,
    ) -> None:
        self._db = db
        self.prices = prices
        self._unpriced = unpriced
        self._hold_timeout = hold_timeout

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

    async def hold(
        self,
        principal: Principal,
        request_id: str,
        model: str,
        worst: Usage,
        *,
        capped: bool = True,
        alone: bool = False,
    ) -> Hold:
        """Reserve the worst-case cost, or answer 402 naming the limit that was hit (503
        when the database does not answer within ``hold_timeout``). ``capped``: the
        request set an output limit, so the charge never exceeds the hold. ``alone``: no
        other request is being metered, so nothing could share the transaction."""
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
            capped,
        )
        if amount == 0:
            return hold
        period = None
        if principal.key_pk is not None and principal.key_period:
            period = current_period(principal.key_period, datetime.now(UTC))
        op = WalletOp(
            HOLD,
            request_id,
            principal.user_id,
            principal.key_pk,
            principal.key_id,
            amount,
            period,
        )
        result = await self._hold_result(hold, op, alone)
        if result == KEY_CAP:
            raise insufficient(
                "This API key has reached its spend cap: the request may cost up to "
                f"{money(amount)} and the key's remaining allowance is smaller. Raise "
                "the key's cap or use another key."
            )
        if result == NO_FUNDS:
            raise insufficient(
                "Insufficient balance in your wallet: the request may cost up to "
                f"{money(amount)}, more than your balance plus credit limit. Top up or "
                "lower max_tokens."
            )
        if result == DUPLICATE:
            raise invalid_request(
                "This request id was used before.", param="x-request-id", code="duplicate_request"
            )
        return hold

    async def _hold_result(self, hold: Hold, op: WalletOp, alone: bool) -> int:
        ops = self._db.wallet_ops
        try:
            result = ops.apply_now(op) if alone else None
            if result is None and alone:
                async with asyncio.timeout(self._hold_timeout):
                    sweep = WalletOp(SWEEP, hold.request_id, note="abandoned")
                    result = await ops.run_alone(op, sweep, again_after=ABANDONED_AGAIN)
        except (WalletStoreError, TimeoutError) as error:
            raise unavailable() from error
        if result is not None:
            return result
        pending = ops.submit(op, alone=alone)
        try:
            async with asyncio.timeout(self._hold_timeout):
                return await asyncio.shield(pending)
        except BaseException as error:
            # Abandoned (client gone, database slow): release the hold once it lands.
            pending.add_done_callback(self._release_abandoned(hold))
            if isinstance(error, TimeoutError | WalletStoreError):
                raise unavailable() from error
            raise

    def _release_abandoned(self, hold: Hold) -> Callable[[asyncio.Future[int]], None]:
        def done(future: asyncio.Future[int]) -> None:
            if future.cancelled() or future.exception() is not None or future.result() != HELD:
                return
            released = self._db.wallet_ops.submit(_abandoned(hold))
            released.add_done_callback(_ignore_result)

        return done

    async def settle(self, hold: Hold, usage: Usage, note: str = "", *, alone: bool = False) -> int:
        """Charge what was used and release the rest. The charge never exceeds the hold
        when the request set an output limit; without one the excess is taken as far as
        the balance and credit limit allow. Runs at most once per request id (later
        calls change nothing); still charges a request whose hold the sweeper released.
        Returns the charge."""
        if hold.amount == 0:
            return 0
        charge = min(hold.cost(usage), MAX_AMOUNT)
        if hold.capped:
            charge = min(charge, hold.amount)
        return await self._settle(hold, charge, note, alone)

    async def release(self, hold: Hold, note: str = "", *, alone: bool = False) -> None:
        if hold.amount:
            await self._settle(hold, 0, note, alone)

    async def _settle(self, hold: Hold, charge: int, note: str, alone: bool = False) -> int:
        op = WalletOp(SETTLE, hold.request_id, hold.user_id, hold.key_pk, None, charge, None, note)
        if alone:
            with contextlib.suppress(WalletStoreError):  # then the retrying path below
                ops = self._db.wallet_ops
                result = ops.apply_now(op)
                if result is None:
                    result = await ops.run_alone(op, op)  # cancelled: queued again
                if result is not None:
                    return max(result, 0)
        for delay in SETTLE_RETRIES:
            try:
                result = await asyncio.shield(self._db.wallet_ops.submit(op, alone=alone))
                return max(result, 0)
            except WalletStoreError as error:
                if delay is None:
                    raise unavailable() from error
                log.warning("settling %s failed (%s); retrying", hold.request_id, error)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def sweep(self, older_than_seconds: float) -> int:
        """Release reservations older than the TTL (a crashed worker loses no money). A
        request still running is charged when it ends, without its hold."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        async with self._db.session() as session:
            stale = await q.stale_reservations(session, cutoff)
        ops = self._db.wallet_ops
        pending = [
            ops.submit(WalletOp(SWEEP, request_id, note="released by the sweeper"))
            for request_id in stale
        ]
        results = await asyncio.gather(*pending)
        return sum(1 for result in results if result != ALREADY)

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

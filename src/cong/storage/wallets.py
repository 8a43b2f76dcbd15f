"""Wallet arithmetic in SQL: every change is one conditional atomic UPDATE plus its
ledger entry, in one transaction, so concurrent requests can never spend past the
credit limit or a key's cap, and the balance always equals the ledger's sum."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from cong.storage.billing_tables import LedgerEntry, Reservation
from cong.storage.tables import ApiKey, User, utcnow

# Core statements run on a connection (the request path) or a session (admin paths).
Executor = AsyncConnection | AsyncSession


def _rows(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def debit_wallet(executor: Executor, user_id: int, amount: int) -> bool:
    """Take ``amount`` if ``balance - amount >= -credit_limit``; False (nothing taken)
    otherwise."""
    result = await executor.execute(
        update(User)
        .where(User.id == user_id, User.balance - amount + User.credit_limit >= 0)
        .values(balance=User.balance - amount)
    )
    return _rows(result) == 1


async def hold_key_cap(executor: Executor, key_pk: int, amount: int) -> bool:
    """Reserve ``amount`` against a key's lifetime and period caps, if they allow it
    (call :func:`roll_key_period` first so the period counter is current)."""
    result = await executor.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_pk,
            or_(
                ApiKey.spend_cap.is_(None),
                ApiKey.spent + ApiKey.reserved + amount <= ApiKey.spend_cap,
            ),
            or_(
                ApiKey.period_cap.is_(None),
                ApiKey.period_spent + ApiKey.reserved + amount <= ApiKey.period_cap,
            ),
        )
        .values(reserved=ApiKey.reserved + amount)
    )
    return _rows(result) == 1


async def roll_key_period(executor: Executor, key_pk: int, period: str) -> None:
    """Start a new spend period for a key (idempotent)."""
    await executor.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_pk,
            ApiKey.period.is_not(None),
            or_(ApiKey.period_start.is_(None), ApiKey.period_start != period),
        )
        .values(period_start=period, period_spent=0)
    )


async def add_entries(executor: Executor, entries: list[dict[str, Any]]) -> None:
    """Append ledger entries (dicts of user_id, kind, amount and optionally request_id,
    key_id, note) in one statement."""
    rows = [
        {"request_id": None, "key_id": None, "note": "", "created_at": utcnow(), **entry}
        for entry in entries
    ]
    for row in rows:
        row["note"] = str(row["note"])[:256]
    await executor.execute(insert(LedgerEntry), rows)


async def add_entry(
    executor: Executor,
    user_id: int,
    kind: str,
    amount: int,
    *,
    request_id: str | None = None,
    key_id: str | None = None,
    note: str = "",
) -> None:
    await add_entries(
        executor,
        [
            {
                "user_id": user_id,
                "kind": kind,
                "amount": amount,
                "request_id": request_id,
                "key_id": key_id,
                "note": note,
            }
        ],
    )


async def add_reservation(
    executor: Executor, request_id: str, user_id: int, key_pk: int | None, amount: int
) -> None:
    await executor.execute(
        insert(Reservation).values(
            request_id=request_id,
            user_id=user_id,
            key_pk=key_pk,
            amount=amount,
            created_at=utcnow(),
        )
    )


async def credit_wallet(executor: Executor, user_id: int, amount: int) -> None:
    await executor.execute(
        update(User).where(User.id == user_id).values(balance=User.balance + amount)
    )


@dataclass(frozen=True, slots=True)
class TakenReservation:
    user_id: int
    key_pk: int | None
    amount: int


async def take_reservation(executor: Executor, request_id: str) -> TakenReservation | None:
    """Remove an open reservation and return it; None if it was already settled (the
    DELETE … RETURNING is what makes settlement happen exactly once per request id)."""
    result = await executor.execute(
        delete(Reservation)
        .where(Reservation.request_id == request_id)
        .returning(Reservation.user_id, Reservation.key_pk, Reservation.amount)
    )
    row = result.first()
    return TakenReservation(int(row[0]), row[1], int(row[2])) if row else None


async def release_key_hold(executor: Executor, key_pk: int, held: int, charged: int) -> None:
    await executor.execute(
        update(ApiKey)
        .where(ApiKey.id == key_pk)
        .values(
            reserved=ApiKey.reserved - held,
            spent=ApiKey.spent + charged,
            period_spent=ApiKey.period_spent + charged,
        )
    )


async def stale_reservations(
    executor: Executor, older_than: datetime, limit: int = 500
) -> Sequence[str]:
    query = (
        select(Reservation.request_id)
        .where(Reservation.created_at < older_than)
        .order_by(Reservation.created_at)
        .limit(limit)
    )
    return (await executor.execute(query)).scalars().all()


async def ledger_sum(executor: Executor, user_id: int) -> int:
    query = select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.user_id == user_id
    )
    return int((await executor.execute(query)).scalar_one())


async def open_reservations(executor: Executor, user_id: int | None = None) -> int:
    query = select(func.count()).select_from(Reservation)
    if user_id is not None:
        query = query.where(and_(Reservation.user_id == user_id))
    return int((await executor.execute(query)).scalar_one())

"""Wallet arithmetic in SQL: every change is one conditional atomic UPDATE plus its
ledger entry, in one transaction, so concurrent requests can never spend past the
credit limit or a key's cap, and the balance always equals the ledger's sum."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.billing_tables import LedgerEntry, Reservation
from cong.storage.tables import ApiKey, User


def _rows(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def debit_wallet(session: AsyncSession, user_id: int, amount: int) -> bool:
    """Take ``amount`` if ``balance - amount >= -credit_limit``; False (nothing taken)
    otherwise."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id, User.balance - amount + User.credit_limit >= 0)
        .values(balance=User.balance - amount)
    )
    return _rows(result) == 1


async def hold_key_cap(session: AsyncSession, key_pk: int, amount: int) -> bool:
    """Reserve ``amount`` against a key's lifetime and period caps, if they allow it
    (call :func:`roll_key_period` first so the period counter is current)."""
    result = await session.execute(
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


async def roll_key_period(session: AsyncSession, key_pk: int, period: str) -> None:
    """Start a new spend period for a key (idempotent)."""
    await session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_pk,
            ApiKey.period.is_not(None),
            or_(ApiKey.period_start.is_(None), ApiKey.period_start != period),
        )
        .values(period_start=period, period_spent=0)
    )


async def add_entry(
    session: AsyncSession,
    user_id: int,
    kind: str,
    amount: int,
    *,
    request_id: str | None = None,
    key_id: str | None = None,
    note: str = "",
) -> None:
    session.add(
        LedgerEntry(
            user_id=user_id,
            kind=kind,
            amount=amount,
            request_id=request_id,
            key_id=key_id,
            note=note[:256],
        )
    )


async def credit_wallet(session: AsyncSession, user_id: int, amount: int) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(balance=User.balance + amount)
    )


async def take_reservation(session: AsyncSession, request_id: str) -> Reservation | None:
    """Remove an open reservation and return it; None if it was already settled (this is
    what makes settlement happen exactly once per request id)."""
    reservation = await session.get(Reservation, request_id, with_for_update=True)
    if reservation is None:
        return None
    result = await session.execute(delete(Reservation).where(Reservation.request_id == request_id))
    return reservation if _rows(result) == 1 else None


async def release_key_hold(session: AsyncSession, key_pk: int, held: int, charged: int) -> None:
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_pk)
        .values(
            reserved=ApiKey.reserved - held,
            spent=ApiKey.spent + charged,
            period_spent=ApiKey.period_spent + charged,
        )
    )


async def stale_reservations(
    session: AsyncSession, older_than: datetime, limit: int = 500
) -> Sequence[str]:
    query = (
        select(Reservation.request_id)
        .where(Reservation.created_at < older_than)
        .order_by(Reservation.created_at)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def ledger_sum(session: AsyncSession, user_id: int) -> int:
    query = select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.user_id == user_id
    )
    return int((await session.execute(query)).scalar_one())


async def open_reservations(session: AsyncSession, user_id: int | None = None) -> int:
    query = select(func.count()).select_from(Reservation)
    if user_id is not None:
        query = query.where(and_(Reservation.user_id == user_id))
    return int((await session.execute(query)).scalar_one())

"""Wallet statements for the admin paths (top-ups, adjustments) and reads. Holds and
settlements on the request path are in wallet_ops.py (committed in groups)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from cong.storage.billing_tables import LedgerEntry, Reservation
from cong.storage.tables import User, utcnow

# Core statements run on a connection (the request path) or a session (admin paths).
Executor = AsyncConnection | AsyncSession


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


async def credit_wallet(executor: Executor, user_id: int, amount: int) -> None:
    await executor.execute(
        update(User).where(User.id == user_id).values(balance=User.balance + amount)
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

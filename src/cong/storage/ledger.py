"""Read queries on the wallet ledger (entries are written by storage/wallets.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.billing_tables import LedgerEntry
from cong.storage.usage_tables import UsageLog


async def query_ledger(
    session: AsyncSession,
    *,
    user_id: int | None,
    key_id: str | None = None,
    model: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> Sequence[LedgerEntry]:
    """Entries newest first. ``key_id`` matches the entries of the key's requests (the
    reservation names the key; its release and settlement share the request id), and
    ``model`` those of requests for that model in the usage log."""
    query = select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(LedgerEntry.user_id == user_id)
    if key_id is not None:
        of_key = select(LedgerEntry.request_id).where(
            LedgerEntry.key_id == key_id, LedgerEntry.kind == "reservation"
        )
        query = query.where(or_(LedgerEntry.key_id == key_id, LedgerEntry.request_id.in_(of_key)))
    if model is not None:
        of_model = select(UsageLog.request_id).where(UsageLog.requested_model == model)
        query = query.where(LedgerEntry.request_id.in_(of_model))
    if kind is not None:
        query = query.where(LedgerEntry.kind == kind)
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    if before_id is not None:
        query = query.where(LedgerEntry.id < before_id)
    return (await session.execute(query)).scalars().all()

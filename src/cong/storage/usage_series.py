"""Reads of the daily usage roll-ups for charts."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.usage_tables import UsageDaily


async def daily_rows(
    session: AsyncSession,
    *,
    first: str,
    last: str,
    user_id: int | None,
    key_id: str | None,
    model: str | None,
) -> Sequence[UsageDaily]:
    """Roll-up rows from day ``first`` to day ``last`` (both included, YYYY-MM-DD)."""
    query = select(UsageDaily).where(UsageDaily.day >= first, UsageDaily.day <= last)
    if user_id is not None:
        query = query.where(UsageDaily.user_id == user_id)
    if key_id is not None:
        query = query.where(UsageDaily.key_id == key_id)
    if model is not None:
        query = query.where(UsageDaily.model == model)
    return (await session.execute(query)).scalars().all()

"""Queries for the usage log and the daily roll-ups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.usage_tables import UsageDaily, UsageLog


async def insert_usage(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        # Core executemany: the ORM's bulk path costs 1.5x the CPU per row.
        await session.execute(insert(cast(Table, UsageLog.__table__)), rows)


async def add_daily(
    session: AsyncSession, totals: dict[tuple[str, int, str, str], list[int]]
) -> None:
    """Add to the daily roll-ups (an upsert per day, user, key and model)."""
    if not totals:
        return
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    rows = [
        {
            "day": day,
            "user_id": user,
            "key_id": key,
            "model": model,
            "requests": t[0],
            "prompt_tokens": t[1],
            "completion_tokens": t[2],
            "cost": t[3],
        }
        for (day, user, key, model), t in sorted(totals.items())
    ]
    statement = make(UsageDaily).values(rows)
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["day", "user_id", "key_id", "model"],
            set_={
                "requests": UsageDaily.requests + excluded.requests,
                "prompt_tokens": UsageDaily.prompt_tokens + excluded.prompt_tokens,
                "completion_tokens": UsageDaily.completion_tokens + excluded.completion_tokens,
                "cost": UsageDaily.cost + excluded.cost,
            },
        )
    )


async def prune_usage(session: AsyncSession, before: datetime) -> None:
    await session.execute(delete(UsageLog).where(UsageLog.created_at < before))


async def query_usage(
    session: AsyncSession,
    *,
    user_id: int | None,
    key_id: str | None,
    model: str | None,
    since: datetime | None,
    until: datetime | None,
    before_id: int | None,
    limit: int,
) -> Sequence[UsageLog]:
    query = select(UsageLog).order_by(UsageLog.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(UsageLog.user_id == user_id)
    if key_id is not None:
        query = query.where(UsageLog.key_id == key_id)
    if model is not None:
        query = query.where(UsageLog.requested_model == model)
    if since is not None:
        query = query.where(UsageLog.created_at >= since)
    if until is not None:
        query = query.where(UsageLog.created_at < until)
    if before_id is not None:
        query = query.where(UsageLog.id < before_id)
    return (await session.execute(query)).scalars().all()


async def query_daily(
    session: AsyncSession,
    *,
    user_id: int | None,
    key_id: str | None,
    since: str | None,
) -> Sequence[UsageDaily]:
    query = select(UsageDaily).order_by(UsageDaily.day.desc(), UsageDaily.model)
    if user_id is not None:
        query = query.where(UsageDaily.user_id == user_id)
    if key_id is not None:
        query = query.where(UsageDaily.key_id == key_id)
    if since is not None:
        query = query.where(UsageDaily.day >= since)
    return (await session.execute(query)).scalars().all()

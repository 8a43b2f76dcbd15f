"""Queries for the usage log and the daily roll-ups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import DateTime, Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.tables import ApiKey
from cong.storage.usage_tables import UsageDaily, UsageLog


async def insert_usage(
    session: AsyncSession, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert usage rows (values in ``columns`` order) with one driver-level executemany:
    no per-row work in SQLAlchemy, which cost ~4x the insert itself."""
    if not rows:
        return
    connection = await session.connection()
    dialect = connection.dialect
    style = dialect.paramstyle
    if style not in ("qmark", "numeric_dollar"):  # aiosqlite, asyncpg
        table = cast(Table, UsageLog.__table__)
        await session.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    if dialect.name == "sqlite":
        rows = _sqlite_times(columns, rows)
    names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
    if style == "qmark":
        marks = ", ".join("?" for _ in columns)
    else:
        marks = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    sql = f"INSERT INTO {UsageLog.__tablename__} ({names}) VALUES ({marks})"
    await connection.exec_driver_sql(sql, rows)


def _sqlite_times(columns: Sequence[str], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Datetimes as SQLAlchemy stores them in SQLite (naive UTC text), so that reads
    through the ORM see the same values."""
    table = cast(Table, UsageLog.__table__)
    times = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, DateTime)]
    if not times:
        return rows
    converted = []
    for row in rows:
        values = list(row)
        for i in times:
            value = values[i]
            if isinstance(value, datetime):
                if value.tzinfo is not None and value.tzinfo is not UTC:
                    value = value.astimezone(UTC)
                values[i] = value.replace(tzinfo=None).isoformat(" ", "microseconds")
        converted.append(tuple(values))
    return converted


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


async def touch_keys(session: AsyncSession, used: dict[str, datetime]) -> None:
    """Set each key's ``last_used_at`` (public id -> time of its latest request)."""
    if not used:
        return
    keys = cast(Table, ApiKey.__table__)
    rows = [{"pid": key, "at": at} for key, at in sorted(used.items())]
    statement = update(keys).where(keys.c.public_id == bindparam("pid"))
    await session.execute(statement.values(last_used_at=bindparam("at")), rows)


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
    request_id: str | None = None,
    endpoint: str | None = None,
    failed: bool | None = None,
) -> Sequence[UsageLog]:
    query = select(UsageLog).order_by(UsageLog.id.desc()).limit(limit)
    if request_id is not None:
        query = query.where(UsageLog.request_id == request_id)
    if endpoint is not None:
        query = query.where(UsageLog.endpoint == endpoint)
    if failed is not None:
        query = query.where(UsageLog.status >= 400 if failed else UsageLog.status < 400)
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

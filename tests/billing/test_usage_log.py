"""The usage log writer on SQLite and PostgreSQL: rows inserted in batches (driver-level
executemany) read back exactly through the ORM, and the daily roll-ups add up."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from cong.billing.usage_log import UsageRecord, UsageWriter
from cong.storage.database import Database, migrate_async
from cong.storage.usage import query_usage
from cong.storage.usage_tables import UsageDaily

HANOI = timezone(timedelta(hours=7))


def record(n: int, created_at: datetime, **changes: object) -> UsageRecord:
    values: dict[str, object] = {
        "request_id": f"req_{n}",
        "created_at": created_at,
        "user_id": 1,
        "key_id": "key1",
        "group": "default",
        "endpoint": "chat",
        "requested_model": "gpt-4o",
        "served_model": "smollm2",
        "channel": "local",
        "prompt_tokens": 10 + n,
        "cached_tokens": 0,
        "completion_tokens": 20,
        "reasoning_tokens": 0,
        "cost": 5,
        "latency_ms": 12,
        "ttft_ms": None,
        "status": 200,
        "stream": False,
        "end_reason": "completed",
        "estimated": False,
    }
    values.update(changes)
    return UsageRecord(**values)  # type: ignore[arg-type]


async def test_rows_and_daily_totals_round_trip(database_url: str) -> None:
    await migrate_async(database_url)
    db = Database(database_url)
    writer = UsageWriter(db)
    late = datetime(2026, 11, 22, 23, 59, 59, 123456, tzinfo=UTC)
    records = [record(n, late) for n in range(250)]  # more than one insert chunk
    records.append(
        record(
            250,
            datetime(2026, 11, 23, 7, 0, tzinfo=HANOI),  # 2026-11-23 00:00 UTC
            ttft_ms=7,
            stream=True,
            estimated=True,
            end_reason="client_disconnected",
            status=499,
        )
    )
    try:
        for item in records:
            writer.add(item)
        await writer.flush()
        async with db.session() as session:
            rows = await query_usage(
                session,
                user_id=1,
                key_id=None,
                model="gpt-4o",
                since=None,
                until=None,
                before_id=None,
                limit=500,
            )
            daily = (await session.execute(select(UsageDaily))).scalars().all()
    finally:
        await db.close()

    assert len(rows) == 251
    newest = rows[0]
    assert newest.request_id == "req_250"
    assert newest.created_at.replace(tzinfo=newest.created_at.tzinfo or UTC) == datetime(
        2026, 11, 23, tzinfo=UTC
    )
    assert (newest.ttft_ms, newest.stream, newest.estimated, newest.status) == (7, True, True, 499)
    oldest = rows[-1]
    assert oldest.created_at.replace(tzinfo=oldest.created_at.tzinfo or UTC) == late
    assert (oldest.prompt_tokens, oldest.ttft_ms, oldest.stream) == (10, None, False)

    by_day = {row.day: (row.requests, row.prompt_tokens, row.cost) for row in daily}
    assert by_day == {
        "2026-11-22": (250, sum(10 + n for n in range(250)), 5 * 250),
        "2026-11-23": (1, 260, 5),
    }


async def test_a_bad_row_never_blocks_the_usage_log(database_url: str) -> None:
    await migrate_async(database_url)
    db = Database(database_url)
    writer = UsageWriter(db)
    now = datetime.now(UTC)
    try:
        writer.add(record(1, now, prompt_tokens=2**63, cost=2**64))  # out of any column
        writer.add(record(2, now))
        await writer.flush()
        writer.add(record(2, now))  # the same request id again: refused by the database
        writer.add(record(3, now))
        await writer.flush()
        writer.add(record(4, now))
        await writer.flush()
        async with db.session() as session:
            rows = await query_usage(
                session,
                user_id=1,
                key_id=None,
                model=None,
                since=None,
                until=None,
                before_id=None,
                limit=10,
            )
    finally:
        await db.close()
    assert sorted(row.request_id for row in rows) == ["req_1", "req_2", "req_3", "req_4"]
    clamped = next(row for row in rows if row.request_id == "req_1")
    assert clamped.prompt_tokens == 2**31 - 1 and clamped.cost == 10**15
    assert writer.dropped == 1 and writer.backlog == 0


def test_the_buffer_is_bounded() -> None:
    writer = UsageWriter(None, batch=10, max_pending=25)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    for n in range(100):
        writer.add(record(n, now))
    assert writer.backlog <= 25 + 10
    assert writer.dropped == 100 - writer.backlog


async def test_a_write_in_flight_at_shutdown_is_finished_not_lost(tmp_path: Path) -> None:
    """Found by the two-worker drain test: closing the writer while its periodic flush
    was writing (here: waiting on another process's write lock, as a second worker's
    write on the same SQLite file does) cancelled the write, and the rows it held were
    never written."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cong.db'}"
    await migrate_async(url)
    db = Database(url)
    writer = UsageWriter(db, flush_seconds=0.05)
    writer.start()
    other = sqlite3.connect(tmp_path / "cong.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
        writer.add(record(1, datetime.now(UTC), end_reason="client_disconnected", status=499))
        await asyncio.sleep(0.5)  # the periodic flush has taken the row and waits
        closing = asyncio.create_task(writer.close())
        await asyncio.sleep(0.5)
        other.execute("COMMIT")
        await asyncio.wait_for(closing, 30)
        async with db.session() as session:
            rows = await query_usage(
                session, user_id=1, key_id=None, model=None, since=None, until=None,
                before_id=None, limit=10,
            )  # fmt: skip
    finally:
        other.close()
        await db.close()
    assert [row.request_id for row in rows] == ["req_1"]

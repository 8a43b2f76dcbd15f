"""The usage log: one row per request, written in batches off the request path, with
daily roll-ups per user, key and model and the keys' ``last_used_at`` kept up to date at
each flush. The buffer is bounded (``max_pending``): when the database stays away longer
than that, the oldest rows are dropped and counted (money is never lost with them: the
ledger is written on the request path; see docs/billing.md for the reconciliation). A
row the database refuses never blocks the others: it is dropped and logged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter

from sqlalchemy import text

from cong.money import MAX_AMOUNT
from cong.storage.database import Database
from cong.storage.usage import add_daily, insert_usage, prune_usage, touch_keys

log = logging.getLogger("cong.usage")


@dataclass(slots=True)
class UsageRecord:
    request_id: str
    created_at: datetime
    user_id: int
    key_id: str
    group: str
    endpoint: str
    requested_model: str
    served_model: str
    channel: str
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cost: int
    latency_ms: int
    ttft_ms: int | None
    status: int
    stream: bool
    end_reason: str
    estimated: bool


FIELDS = tuple(f.name for f in fields(UsageRecord))
as_row = attrgetter(*FIELDS)  # record -> tuple in FIELDS order (``astuple`` deep-copies)
INSERT_CHUNK = 100
CLOSE_SECONDS = 60.0  # how long closing waits for a write in flight
INT32 = 2**31 - 1  # token, latency and status columns
SMALL = (
    *("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens"),
    *("latency_ms", "ttft_ms", "status"),
)


def fit_columns(record: UsageRecord) -> UsageRecord:
    """Clamp numbers into their columns' range (a value out of range would make the
    database refuse the whole batch)."""
    for name in SMALL:
        value = getattr(record, name)
        if value is not None and not 0 <= value <= INT32:
            setattr(record, name, min(max(value, 0), INT32))
    if not 0 <= record.cost <= MAX_AMOUNT:  # a charge never exceeds this: sums still fit
        record.cost = min(max(record.cost, 0), MAX_AMOUNT)
    return record


class UsageWriter:
    def __init__(
        self,
        db: Database,
        *,
        flush_seconds: float = 0.5,
        batch: int = 500,
        retention_days: int = 90,
        max_pending: int = 100_000,
    ) -> None:
        self._db = db
        self._max_pending = max_pending
        self.dropped = 0  # rows lost to a full buffer or refused by the database
        self._flush_seconds = flush_seconds
        self._batch = batch
        self._retention = retention_days
        self._pending: list[UsageRecord] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def add(self, record: UsageRecord) -> None:
        self._pending.append(record)
        if len(self._pending) >= self._batch:
            self._wake.set()
            if len(self._pending) > self._max_pending:
                excess = len(self._pending) - self._max_pending
                del self._pending[:excess]
                self.dropped += excess
                log.error("usage log buffer full: dropped the %d oldest row(s)", excess)

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        pruned_at = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_seconds)
            self._wake.clear()
            try:
                await self.flush()
                if not self._stopping and loop.time() - pruned_at > 3600:
                    pruned_at = loop.time()
                    cutoff = datetime.now(UTC) - timedelta(days=self._retention)
                    async with self._db.session() as session, session.begin():
                        await prune_usage(session, cutoff)
            except Exception:
                log.exception("writing the usage log failed; will retry")

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        batch = [fit_columns(r) for r in batch]
        try:
            await self._write(batch)
        except Exception:
            left = await self._write_alone(batch)
            if left:
                self._pending[:0] = left  # the database is away: keep them for the next try
                raise

    async def _write_alone(self, batch: list[UsageRecord]) -> list[UsageRecord]:
        """After a failed batch: write its rows one by one and drop those the database
        refuses while it answers otherwise. Returns the rows left when it stops
        answering (to try again later)."""
        for i, record in enumerate(batch):
            try:
                await self._write([record])
            except Exception:
                if not await self._db_answers():
                    return batch[i:]
                self.dropped += 1
                log.exception("usage row %s refused by the database; dropped", record.request_id)
        return []

    async def _db_answers(self) -> bool:
        try:
            async with self._db.session() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def _write(self, batch: list[UsageRecord]) -> None:
        by_date: dict[tuple[date, int, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        used: dict[str, datetime] = {}
        for r in batch:
            totals = by_date[(r.created_at.date(), r.user_id, r.key_id, r.requested_model)]
            totals[0] += 1
            totals[1] += r.prompt_tokens
            totals[2] += r.completion_tokens
            totals[3] += r.cost
            if r.key_id and (r.key_id not in used or used[r.key_id] < r.created_at):
                used[r.key_id] = r.created_at
        daily = {
            (day.isoformat(), user, key, model): totals
            for (day, user, key, model), totals in by_date.items()
        }
        async with self._db.session() as session, session.begin():
            # Small statements: each one's parameter processing runs on the event
            # loop, so large ones would stall the requests being served meanwhile.
            for start in range(0, len(batch), INSERT_CHUNK):
                rows = [as_row(r) for r in batch[start : start + INSERT_CHUNK]]
                await insert_usage(session, FIELDS, rows)
            await add_daily(session, daily)
            await touch_keys(session, used)

    async def close(self) -> None:
        """Write what is pending. A write in flight is finished, not cancelled: the rows
        it took would be lost (only if it takes longer than ``CLOSE_SECONDS`` — the
        database away — is it cut)."""
        task = self._task
        if task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), CLOSE_SECONDS)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(Exception):
            await self.flush()

"""Conversation turns written behind the answer, in batches.

Storing a turn used to cost the request two database transactions (the conversation
row before routing, the messages after the answer): about ten times the gateway's own
work on a request, and they queued behind each other on SQLite under load. Turns now go
to a bounded buffer that one task writes every ``flush_seconds`` (default 50 ms), all
pending turns in one transaction. A conversation's turns keep their order.

Reads stay consistent where it matters: continuing a conversation, and every
conversation call of the API, first write what this process still holds (``settle``).
Another worker sees a turn at most ``flush_seconds`` later; a continuation that reaches
another worker first and finds nothing waits that long once before answering 404.

Like the usage log, the buffer is not money: a crash loses at most its turns, and a
turn the database refuses (its conversation deleted meanwhile) is dropped and logged,
never blocking the others."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from cong.storage import conversations as queries
from cong.storage.database import Database

log = logging.getLogger("cong.memory")


@dataclass(slots=True)
class PendingTurn:
    conversation_id: str
    rows: list[dict[str, Any]]
    model: str
    new: dict[str, Any] | None = None  # the conversation's own row, with its first turn


class TurnWriter:
    def __init__(
        self, db: Database, *, flush_seconds: float = 0.05, max_pending: int = 10_000
    ) -> None:
        self._db = db
        self.flush_seconds = flush_seconds
        self._max_pending = max_pending
        self._pending: list[PendingTurn] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one transaction at a time, in order
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def add(self, turn: PendingTurn) -> None:
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            log.error("conversation buffer full: turn of %s not stored", turn.conversation_id)
            return
        self._pending.append(turn)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()

    def holds(self, conversation_id: str) -> bool:
        return any(t.conversation_id == conversation_id for t in self._pending)

    async def settle(self, conversation_id: str | None = None) -> None:
        """Write what is pending now (for ``conversation_id``, or any) before a read,
        and wait for a write in flight."""
        pending = self._pending and (conversation_id is None or self.holds(conversation_id))
        if pending or self._lock.locked():
            await self.flush()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.flush_seconds)  # let a batch gather
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("storing conversation turns failed")

    async def flush(self) -> None:
        async with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                await self._write(batch)
            except Exception:
                for turn in batch:  # one by one: a refused turn drops alone
                    try:
                        await self._write([turn])
                    except Exception:
                        self.dropped += 1
                        log.exception("turn of conversation %s dropped", turn.conversation_id)

    async def _write(self, batch: list[PendingTurn]) -> None:
        async with self._db.session() as session, session.begin():
            await queries.add_turns(
                session,
                [t.new for t in batch if t.new is not None],
                [(t.conversation_id, t.rows, t.model) for t in batch],
            )

    async def close(self) -> None:
        if self._task is not None:
            async with self._lock:  # never cancel a transaction halfway
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

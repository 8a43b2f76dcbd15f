"""``last_used_at`` of API keys, written off the request path: authentication only adds
the key's id to a set; a background task writes the set every ``interval`` seconds in
one UPDATE (so the time is exact to within the interval)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from cong.storage.database import Database
from cong.storage.web_sessions import touch_keys

log = logging.getLogger("cong.accounts")


class LastUsedWriter:
    def __init__(self, db: Database, interval: float = 10.0) -> None:
        self._db = db
        self._interval = interval
        self._seen: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    def seen(self, key_pk: int) -> None:
        self._seen.add(key_pk)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:  # a database hiccup must not end the task
                log.exception("could not write keys' last_used_at")

    async def flush(self) -> None:
        if not self._seen:
            return
        keys, self._seen = self._seen, set()
        async with self._db.session() as session, session.begin():
            await touch_keys(session, sorted(keys), datetime.now(UTC))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self.flush()

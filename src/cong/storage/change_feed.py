"""Tell every gateway process that shared data changed (a key revoked, a price set), so
each drops its cached copy at once instead of at the end of the cache's lifetime.

Through Redis pub/sub when a Redis URL is configured, else PostgreSQL ``LISTEN/NOTIFY``;
with neither (one SQLite process) only the local process is told. Messages are topic
names (``keys``, ``prices``). The caches keep their lifetimes as the fallback: when the
feed is down (or reconnects, and may have missed messages) every topic fires locally,
and changes reach the other processes within a cache lifetime as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from cong.storage.wallet_pg import asyncpg_dsn

log = logging.getLogger("cong.changes")

CHANNEL = "cong_changes"
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)


class ChangeFeed:
    def __init__(self, *, redis_url: str | None = None, database_url: str | None = None) -> None:
        """``database_url``: used for LISTEN/NOTIFY when it is PostgreSQL's (and no Redis)."""
        self._redis_url = redis_url
        postgres = database_url is not None and database_url.startswith("postgresql")
        self._pg_dsn = asyncpg_dsn(database_url) if postgres and database_url else None
        self._handlers: dict[str, list[Callable[[], None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._publisher: Any = None
        self._sends: set[asyncio.Task[None]] = set()
        self.connected = False

    @property
    def shared(self) -> bool:
        return bool(self._redis_url or self._pg_dsn)

    def on(self, topic: str, handler: Callable[[], None]) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    def start(self) -> None:
        if self.shared:
            self._task = asyncio.get_running_loop().create_task(self._listen_forever())

    def publish(self, topic: str) -> None:
        """Tell every process (this one at once); never blocks the caller."""
        self._fire(topic)
        if not self.shared:
            return
        task = asyncio.get_running_loop().create_task(self._send(topic))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    def _fire(self, topic: str) -> None:
        for handler in self._handlers.get(topic, ()):
            try:
                handler()
            except Exception:
                log.exception("change handler for %s failed", topic)

    def _fire_all(self) -> None:
        for topic in self._handlers:
            self._fire(topic)

    async def _send(self, topic: str) -> None:
        try:
            if self._redis_url:
                if self._publisher is None:
                    from redis.asyncio import Redis

                    self._publisher = Redis.from_url(self._redis_url, socket_timeout=2)
                await self._publisher.publish(CHANNEL, topic)
            else:
                import asyncpg

                conn = await asyncpg.connect(self._pg_dsn, timeout=5)
                try:
                    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, topic)
                finally:
                    await conn.close()
        except Exception as error:
            log.warning(
                "could not publish a %s change (%s); caches expire on their own", topic, error
            )

    async def _listen_forever(self) -> None:
        attempt = 0
        while True:
            try:
                if self._redis_url:
                    await self._listen_redis()
                else:
                    await self._listen_postgres()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("change feed lost (%s); reconnecting", error)
            self.connected = False
            self._fire_all()  # messages may have been missed meanwhile
            await asyncio.sleep(RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)])
            attempt += 1

    async def _listen_redis(self) -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(self._redis_url or "", health_check_interval=10)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL)
            self.connected = True
            self._fire_all()
            async for message in pubsub.listen():
                data = message.get("data")
                if isinstance(data, bytes):
                    self._fire(data.decode())
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _listen_postgres(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self._pg_dsn, timeout=5)
        lost = asyncio.get_running_loop().create_future()

        def notified(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            self._fire(payload)

        def terminated(_conn: Any) -> None:
            if not lost.done():
                lost.set_result(None)

        try:
            conn.add_termination_listener(terminated)
            await conn.add_listener(CHANNEL, notified)
            self.connected = True
            self._fire_all()
            while not lost.done():  # asyncpg notices a dead socket only when it is used
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(lost), 10)
                if not lost.done():
                    await conn.execute("SELECT 1")
            raise ConnectionError("the LISTEN connection closed")
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                await self._publisher.aclose()

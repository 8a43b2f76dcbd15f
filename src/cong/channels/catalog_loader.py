"""Keeps each worker's catalog current: config-file channels plus database channels,
rebuilt when the channels table changes (checked every ``routing.refresh_seconds``, and
at once in the worker that made the change)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from cong.channels.catalog import Catalog, build_catalog
from cong.channels.service import Channels, config_channels
from cong.settings import Settings

log = logging.getLogger("cong.channels")


class CatalogLoader:
    def __init__(self, settings: Settings, channels: Channels) -> None:
        self.settings = settings
        self.channels = channels
        self.catalog: Catalog = build_catalog(settings, config_channels(settings))
        self._fingerprint: Any = None
        self._retired: list[tuple[float, Catalog]] = []
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def reload(self, *, force: bool = False) -> Catalog:
        fingerprint = await self.channels.fingerprint()
        if not force and fingerprint == self._fingerprint:
            return self.catalog
        configs = config_channels(self.settings) + await self.channels.configs()
        old, self.catalog = self.catalog, build_catalog(self.settings, configs)
        self._fingerprint = fingerprint
        # In-flight requests still hold the old providers: close them later.
        loop = asyncio.get_running_loop()
        self._retired.append((loop.time() + self.settings.timeouts.total + 60, old))
        return self.catalog

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.routing.refresh_seconds)
            try:
                await self.reload()
            except Exception:
                log.exception("reloading channels failed; keeping the current ones")
            now = loop.time()
            due = [c for t, c in self._retired if t <= now]
            self._retired = [(t, c) for t, c in self._retired if t > now]
            for catalog in due:
                await catalog.close()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _, catalog in self._retired:
            await catalog.close()
        await self.catalog.close()

    def persist_health(self, channel: str, until: float | None, error: str | None) -> None:
        """Health listener: record circuit changes in the database (fire and forget)."""
        name = channel.split("#", 1)[0]
        cooldown = datetime.fromtimestamp(until, UTC) if until else None

        async def write() -> None:
            with contextlib.suppress(Exception):
                await self.channels.record_health(name, cooldown, error)

        try:
            task = asyncio.get_running_loop().create_task(write())
        except RuntimeError:
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

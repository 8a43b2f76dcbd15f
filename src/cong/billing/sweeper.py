"""Background upkeep: release stale reservations (a crashed worker loses no money), and
give the embedded models their free prices."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.exc import IntegrityError

from cong.billing.wallets import Wallets
from cong.settings import Settings
from cong.storage.database import Database
from cong.storage.prices import ensure_free

log = logging.getLogger("cong.sweeper")


class Sweeper:
    def __init__(self, wallets: Wallets, ttl: float, interval: float) -> None:
        self.wallets = wallets
        self.ttl = ttl
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                released = await self.wallets.sweep(self.ttl)
                if released:
                    log.warning("released %d stale reservation(s)", released)
            except Exception:
                log.exception("sweeping reservations failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def ensure_embedded_prices(db: Database, settings: Settings) -> None:
    """The embedded models are free unless an admin priced them."""
    if not settings.model_server.enabled:
        return
    ms = settings.model_server
    models = [ms.chat_model, ms.embedding_model, *(m.id for m in ms.models)]
    with contextlib.suppress(IntegrityError):  # another worker did it first
        async with db.session() as session, session.begin():
            await ensure_free(session, models)

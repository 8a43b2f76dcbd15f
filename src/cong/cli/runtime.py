"""What every ``cong`` management command needs: the settings, a migrated database and
the server secret, for the length of one command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from cong.accounts.credentials import server_secret
from cong.settings import Settings
from cong.storage.database import Database, migrate

T = TypeVar("T")


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    secret: bytes


def run_command(action: Callable[[Runtime], Awaitable[T]], settings: Settings | None = None) -> T:
    """Migrate, open the database, run ``action``, close."""
    settings = settings or Settings.load()
    migrate(settings.effective_database_url)

    async def main() -> T:
        db = Database(settings.effective_database_url)
        try:
            return await action(Runtime(settings, db, server_secret(settings)))
        finally:
            await db.close()

    return asyncio.run(main())

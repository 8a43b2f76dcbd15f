"""Who sets memory modes: a user for their own keys, an admin for any key and for
groups. Authentication caches are dropped after a change (``on_change``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cong.accounts.principal import Principal
from cong.memory.modes import MODES, mode_of
from cong.protocol.errors import invalid_request, not_found
from cong.settings import MemorySettings
from cong.storage import memory_modes as queries
from cong.storage.database import Database


def _checked(mode: str | None) -> str | None:
    if mode is not None and mode not in MODES:
        raise invalid_request(f"mode is one of {', '.join(MODES)} or null.", param="mode")
    return mode


class MemoryModes:
    def __init__(
        self, db: Database, settings: MemorySettings, on_change: Callable[[], None]
    ) -> None:
        self._db = db
        self._settings = settings
        self._on_change = on_change

    async def overview(self, caller: Principal) -> dict[str, Any]:
        async with self._db.session() as session:
            keys = await queries.key_modes(session, caller.user_id)
        return {
            "mode": mode_of(caller, self._settings, web=not caller.key_id),
            "default_mode": self._settings.default_mode,
            "web_mode": self._settings.web_mode,
            "keys": [{"id": k, "name": n, "mode": m} for k, n, m in keys],
        }

    async def set_key(self, caller: Principal, key_id: str, mode: str | None) -> None:
        mode = _checked(mode)
        owner = None if caller.is_admin else caller.user_id
        async with self._db.session() as session, session.begin():
            if not await queries.set_key_mode(session, key_id, owner, mode):
                raise not_found(f"No key '{key_id}'.")
        self._on_change()

    async def set_group(self, group: str, mode: str | None) -> None:
        mode = _checked(mode)
        async with self._db.session() as session, session.begin():
            if not await queries.set_group_mode(session, group, mode):
                raise not_found(f"No group '{group}'.")
        self._on_change()

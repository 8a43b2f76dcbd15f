"""User groups: which models members may use, a price multiplier, and rate limits shared
by each member (RPM / TPM per user)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cong.accounts.key_settings import UNSET
from cong.accounts.views import as_utc
from cong.protocol.errors import invalid_request, not_found
from cong.storage import groups as queries
from cong.storage.accounts import DEFAULT_GROUP
from cong.storage.billing_tables import PPM, Group
from cong.storage.database import Database

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_MULTIPLIER_PPM = 1000 * PPM


@dataclass(frozen=True)
class GroupView:
    id: int
    name: str
    models: list[str] | None
    multiplier_ppm: int
    rpm: int | None
    tpm: int | None
    members: int
    created_at: datetime


class Groups:
    """Group administration. ``on_change`` runs after every change (the callers'
    authentication cache holds group settings)."""

    def __init__(self, db: Database, on_change: Callable[[], None] | None = None) -> None:
        self._db = db
        self._on_change = on_change or (lambda: None)

    async def list_all(self) -> list[GroupView]:
        async with self._db.session() as session:
            return [_view(g, n) for g, n in await queries.list_groups(session)]

    async def get(self, ref: str | int) -> GroupView:
        views = await self.list_all()
        found = next((v for v in views if v.name == str(ref)), None)
        found = found or next((v for v in views if str(v.id) == str(ref)), None)
        if found is None:
            raise not_found(f"No group '{ref}'.")
        return found

    async def create(
        self,
        name: str,
        *,
        models: list[str] | None = None,
        multiplier_ppm: int = PPM,
        rpm: int | None = None,
        tpm: int | None = None,
    ) -> GroupView:
        values = _valid(
            {
                "name": name,
                "models": models,
                "multiplier_ppm": multiplier_ppm,
                "rpm": rpm,
                "tpm": tpm,
            }
        )
        async with self._db.session() as session, session.begin():
            if await queries.find_group(session, values["name"]) is not None:
                raise _conflict(f"A group named '{values['name']}' already exists.")
            group = await queries.add_group(session, Group(**values))
            view = _view(group, 0)
        self._on_change()
        return view

    async def update(
        self,
        ref: str | int,
        *,
        name: str = UNSET,
        models: list[str] | None = UNSET,
        multiplier_ppm: int = UNSET,
        rpm: int | None = UNSET,
        tpm: int | None = UNSET,
    ) -> GroupView:
        changes = {
            k: v
            for k, v in (
                ("name", name),
                ("models", models),
                ("multiplier_ppm", multiplier_ppm),
                ("rpm", rpm),
                ("tpm", tpm),
            )
            if v is not UNSET
        }
        values = _valid(changes)
        async with self._db.session() as session, session.begin():
            group = await _find(session, ref)
            if "name" in values and values["name"] != group.name:
                if group.name == DEFAULT_GROUP:
                    raise _conflict("The default group cannot be renamed.")
                if await queries.find_group(session, values["name"]) is not None:
                    raise _conflict(f"A group named '{values['name']}' already exists.")
            for field, value in values.items():
                setattr(group, field, value)
            group_id = group.id
        self._on_change()
        return await self.get(group_id)

    async def delete(self, ref: str | int) -> None:
        """Remove a group; its members move to the ``default`` group."""
        async with self._db.session() as session, session.begin():
            group = await _find(session, ref)
            if group.name == DEFAULT_GROUP:
                raise _conflict("The default group cannot be removed.")
            await queries.delete_group(session, group.id)
        self._on_change()


async def _find(session: Any, ref: str | int) -> Group:
    group = await queries.find_group(session, ref)
    if group is None:
        raise not_found(f"No group '{ref}'.")
    return group


def _valid(values: dict[str, Any]) -> dict[str, Any]:
    if "name" in values:
        values["name"] = str(values["name"]).strip()
        if not NAME.match(values["name"]):
            raise invalid_request(
                "A group name has 1 to 64 letters, digits, '_', '.' or '-'.", param="name"
            )
    if "models" in values and values["models"] is not None:
        values["models"] = sorted({m.strip() for m in values["models"] if m.strip()})
    ppm = values.get("multiplier_ppm")
    if ppm is not None and not 0 <= ppm <= MAX_MULTIPLIER_PPM:
        raise invalid_request("multiplier must be between 0 and 1000.", param="multiplier")
    if "multiplier_ppm" in values and ppm is None:
        raise invalid_request("multiplier must be a number.", param="multiplier")
    for name in ("rpm", "tpm"):
        limit = values.get(name)
        if limit is not None and not 1 <= limit <= 2**31 - 1:
            raise invalid_request(f"{name} must be a positive integer.", param=name)
    return values


def _conflict(message: str) -> Exception:
    return invalid_request(message, param="name", code="conflict", status=409)


def _view(group: Group, members: int) -> GroupView:
    return GroupView(
        id=group.id,
        name=group.name,
        models=group.models,
        multiplier_ppm=group.multiplier_ppm,
        rpm=group.rpm,
        tpm=group.tpm,
        members=members,
        created_at=as_utc(group.created_at),
    )

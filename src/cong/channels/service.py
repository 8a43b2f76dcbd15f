"""Channels: upstream accounts from the config file and the database.

Config-file channels are read-only; database channels are managed with the admin API
and ``cong channels …``. Keys are encrypted at rest and never shown again in full.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cong.channels.secrets_box import SecretBox
from cong.protocol.errors import invalid_request, not_found
from cong.providers.base import Timeouts
from cong.providers.registry import ProtocolName
from cong.settings import Settings
from cong.storage import channels as queries
from cong.storage.database import Database
from cong.storage.tables import Channel


@dataclass(frozen=True)
class ChannelConfig:
    """A channel as routing needs it: credentials decrypted, ready to build providers."""

    name: str
    type: str
    base_url: str
    keys: tuple[str | None, ...]
    models: tuple[str, ...] = ()
    embedding_models: tuple[str, ...] = ()
    image_models: tuple[str, ...] = ()
    text_only_models: tuple[str, ...] = ()
    model_map: dict[str, str] = field(default_factory=dict)
    api_version: str | None = None
    priority: int = 0
    weight: int = 1
    groups: tuple[str, ...] | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    owned_by: str = ""
    source: str = "config"


class ChannelSpec(BaseModel):
    """What an admin sends to create a channel."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    type: ProtocolName = "openai"
    base_url: str = Field(min_length=1, max_length=512)
    api_keys: list[str] = Field(default_factory=list)
    api_version: str | None = None
    models: list[str] = Field(default_factory=list)
    embedding_models: list[str] = Field(default_factory=list)
    image_models: list[str] = Field(default_factory=list)
    text_only_models: list[str] = Field(default_factory=list)
    model_map: dict[str, str] = Field(default_factory=dict)
    priority: int = 0
    weight: int = Field(1, ge=1, le=10_000)
    groups: list[str] | None = None
    timeouts: dict[str, float] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("timeouts")
    @classmethod
    def _known_timeouts(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - {"connect", "first_byte", "idle", "total"}
        if unknown:
            raise ValueError(f"unknown timeouts: {', '.join(sorted(unknown))}")
        if any(v <= 0 for v in value.values()):
            raise ValueError("timeouts must be positive")
        return value


class ChannelPatch(BaseModel):
    """A partial update; ``api_keys`` replaces every key when given."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None
    api_keys: list[str] | None = None
    api_version: str | None = None
    models: list[str] | None = None
    embedding_models: list[str] | None = None
    image_models: list[str] | None = None
    text_only_models: list[str] | None = None
    model_map: dict[str, str] | None = None
    priority: int | None = None
    weight: int | None = Field(None, ge=1, le=10_000)
    groups: list[str] | None = None
    timeouts: dict[str, float] | None = None
    enabled: bool | None = None


class ChannelView(BaseModel):
    """A channel as listings show it: keys masked, never in full."""

    id: int | None
    name: str
    type: str
    base_url: str
    keys: list[str]
    models: list[str]
    embedding_models: list[str]
    image_models: list[str]
    model_map: dict[str, str]
    priority: int
    weight: int
    groups: list[str] | None
    enabled: bool
    source: str
    cooldown_until: datetime | None = None
    last_error: str | None = None


def _mask(last4: str) -> str:
    return f"…{last4}" if last4 else "(none)"


def _view(channel: Channel) -> ChannelView:
    return ChannelView(
        id=channel.id,
        name=channel.name,
        type=channel.type,
        base_url=channel.base_url,
        keys=[_mask(k) for k in channel.keys_last4],
        models=channel.models,
        embedding_models=channel.embedding_models,
        image_models=channel.image_models,
        model_map=channel.model_map,
        priority=channel.priority,
        weight=channel.weight,
        groups=channel.groups,
        enabled=channel.enabled,
        source="database",
        cooldown_until=channel.cooldown_until,
        last_error=channel.last_error,
    )


def _timeouts(base: Timeouts, overrides: dict[str, float]) -> Timeouts:
    return Timeouts(**{**base.__dict__, **overrides}) if overrides else base


def default_timeouts(settings: Settings) -> Timeouts:
    t = settings.timeouts
    return Timeouts(connect=t.connect, first_byte=t.first_byte, idle=t.idle, total=t.total)


def channel_config(
    source: Any, keys: list[str], timeouts: Timeouts, origin: str, owned_by: str
) -> ChannelConfig:
    """A ChannelConfig from anything with a channel's fields (a config-file upstream or a
    database row)."""
    return ChannelConfig(
        name=source.name,
        type=source.type,
        base_url=source.base_url,
        keys=tuple(keys) or (None,),
        models=tuple(source.models),
        embedding_models=tuple(source.embedding_models),
        image_models=tuple(source.image_models),
        text_only_models=tuple(source.text_only_models),
        model_map=dict(source.model_map),
        api_version=source.api_version,
        priority=source.priority,
        weight=source.weight,
        groups=tuple(source.groups) if source.groups is not None else None,
        timeouts=timeouts,
        owned_by=owned_by,
        source=origin,
    )


def config_channels(settings: Settings) -> list[ChannelConfig]:
    """Channels declared in the config file (``[[upstreams]]``)."""
    timeouts = default_timeouts(settings)
    channels = []
    for up in settings.upstreams:
        if not up.enabled:
            continue
        keys = [k.get_secret_value() for k in up.api_keys]
        if up.api_key:
            keys.insert(0, up.api_key.get_secret_value())
        channels.append(channel_config(up, keys, timeouts, "config", up.owned_by or up.name))
    return channels


class Channels:
    def __init__(self, db: Database, box: SecretBox, settings: Settings) -> None:
        self._db = db
        self._box = box
        self._settings = settings

    def _config_names(self) -> set[str]:
        return {up.name for up in self._settings.upstreams} | {"embedded"}

    async def list_all(self) -> list[ChannelView]:
        """Config-file channels (read-only, ``id`` null) then database channels."""
        configured = [
            ChannelView(
                id=None,
                name=c.name,
                type=c.type,
                base_url=c.base_url,
                keys=[_mask(k[-4:]) if k else _mask("") for k in c.keys],
                models=list(c.models),
                embedding_models=list(c.embedding_models),
                image_models=list(c.image_models),
                model_map=c.model_map,
                priority=c.priority,
                weight=c.weight,
                groups=list(c.groups) if c.groups is not None else None,
                enabled=True,
                source="config",
            )
            for c in config_channels(self._settings)
        ]
        async with self._db.session() as session:
            return configured + [_view(c) for c in await queries.list_channels(session)]

    async def get(self, ref: str) -> ChannelView:
        async with self._db.session() as session:
            return _view(await self._find(session, ref))

    async def _find(self, session: Any, ref: str) -> Channel:
        channel = await queries.get_channel(session, ref)
        if channel is None:
            raise not_found(f"No channel '{ref}'.")
        return channel

    async def create(self, spec: ChannelSpec) -> ChannelView:
        if spec.name in self._config_names():
            raise invalid_request(
                f"The name '{spec.name}' is taken by a config-file channel.",
                param="name",
                code="conflict",
                status=409,
            )
        fields = spec.model_dump(exclude={"api_keys"})
        async with self._db.session() as session, session.begin():
            if await queries.get_channel(session, spec.name) is not None:
                raise invalid_request(
                    f"A channel named '{spec.name}' exists.",
                    param="name",
                    code="conflict",
                    status=409,
                )
            channel = await queries.add_channel(session, **fields, **self._keys(spec.api_keys))
            return _view(channel)

    def _keys(self, keys: list[str]) -> dict[str, list[str]]:
        keys = [k.strip() for k in keys if k.strip()]
        return {
            "keys_encrypted": [self._box.encrypt(k) for k in keys],
            "keys_last4": [k[-4:] for k in keys],
        }

    async def update(self, ref: str, patch: ChannelPatch) -> ChannelView:
        changes = patch.model_dump(exclude_unset=True)
        async with self._db.session() as session, session.begin():
            channel = await self._find(session, ref)
            if "api_keys" in changes:
                changes.update(self._keys(changes.pop("api_keys") or []))
            if "base_url" in changes and changes["base_url"] is not None:
                changes["base_url"] = ChannelSpec._http_url(changes["base_url"])
            for key, value in changes.items():
                setattr(channel, key, value)
            await session.flush()
            return _view(channel)

    async def remove(self, ref: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.delete(await self._find(session, ref))

    async def fingerprint(self) -> tuple[int, datetime | None]:
        async with self._db.session() as session:
            return await queries.fingerprint(session)

    async def record_health(
        self, name: str, cooldown_until: datetime | None, error: str | None
    ) -> None:
        async with self._db.session() as session, session.begin():
            await queries.set_health(session, name, cooldown_until, error)

    async def configs(self) -> list[ChannelConfig]:
        """Every enabled database channel, keys decrypted, for building providers."""
        async with self._db.session() as session:
            rows = await queries.list_channels(session)
        return [self._config(c) for c in rows if c.enabled]

    async def config_of(self, ref: str) -> ChannelConfig:
        """One channel (database or config file) ready for a test request."""
        for channel in config_channels(self._settings):
            if channel.name == ref:
                return channel
        async with self._db.session() as session:
            return self._config(await self._find(session, ref))

    def _config(self, c: Channel) -> ChannelConfig:
        keys = [self._box.decrypt(k) for k in c.keys_encrypted]
        timeouts = _timeouts(default_timeouts(self._settings), c.timeouts)
        return channel_config(c, keys, timeouts, "database", c.name)

"""Channels: upstream accounts from the config file and the database.

Config-file channels are read-only; database channels are managed with the admin API
and ``cong channels …``. Keys are encrypted at rest and never shown again in full.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cong.accounts.views import as_utc
from cong.channels.secrets_box import SecretBox
from cong.protocol.errors import invalid_request, not_found
from cong.providers.base import Timeouts
from cong.providers.registry import ProtocolName, known_protocol
from cong.settings import Settings
from cong.storage import channels as queries
from cong.storage.database import Database
from cong.storage.tables import Channel

log = logging.getLogger("cong.channels")

TIMEOUT_NAMES = frozenset({"connect", "first_byte", "idle", "total"})
# Priorities and weights are stored as 32-bit integers.
PRIORITY_LIMIT = 1_000_000
MAX_TIMEOUT = 86_400.0
NULLABLE = frozenset({"api_version", "groups"})


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
    native_responses: bool = False  # the upstream serves /responses (type openai)


class ChannelSpec(BaseModel):
    """What an admin sends to create a channel."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    type: ProtocolName = "openai"
    base_url: str = Field(min_length=1, max_length=512)
    api_keys: list[str] = Field(default_factory=list)
    api_version: str | None = Field(None, max_length=64)
    models: list[str] = Field(default_factory=list)
    embedding_models: list[str] = Field(default_factory=list)
    image_models: list[str] = Field(default_factory=list)
    text_only_models: list[str] = Field(default_factory=list)
    model_map: dict[str, str] = Field(default_factory=dict)
    priority: int = Field(0, ge=-PRIORITY_LIMIT, le=PRIORITY_LIMIT)
    weight: int = Field(1, ge=1, le=10_000)
    groups: list[str] | None = None
    timeouts: dict[str, float] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return checked_base_url(value)

    @field_validator("timeouts")
    @classmethod
    def _known_timeouts(cls, value: dict[str, float]) -> dict[str, float]:
        return checked_timeouts(value)


def checked_base_url(value: str) -> str:
    """An absolute http(s) URL with a host, without a trailing slash (ValueError if not)."""
    parsed = urlsplit(value.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("base_url must be an http:// or https:// URL with a host")
    if any(c.isspace() or ord(c) < 32 for c in value.strip()):
        raise ValueError("base_url must not contain spaces or control characters")
    try:
        parsed.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError("base_url has an invalid port") from None
    try:
        parsed.hostname.encode("idna")
    except UnicodeError:
        raise ValueError("base_url has an invalid host name") from None
    return value.strip().rstrip("/")


def checked_timeouts(value: dict[str, Any]) -> dict[str, float]:
    """Per-channel timeout overrides: known names, positive finite seconds (ValueError)."""
    unknown = set(value) - TIMEOUT_NAMES
    if unknown:
        raise ValueError(f"unknown timeouts: {', '.join(sorted(unknown))}")
    checked: dict[str, float] = {}
    for name, seconds in value.items():
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError(f"timeouts.{name} must be a number of seconds")
        if not 0 < seconds <= MAX_TIMEOUT:
            raise ValueError(f"timeouts.{name} must be above 0 and at most {MAX_TIMEOUT:g}")
        checked[name] = float(seconds)
    return checked


class ChannelPatch(BaseModel):
    """A partial update; ``api_keys`` replaces every key when given."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(None, min_length=1, max_length=512)
    api_keys: list[str] | None = None
    api_version: str | None = Field(None, max_length=64)
    models: list[str] | None = None
    embedding_models: list[str] | None = None
    image_models: list[str] | None = None
    text_only_models: list[str] | None = None
    model_map: dict[str, str] | None = None
    priority: int | None = Field(None, ge=-PRIORITY_LIMIT, le=PRIORITY_LIMIT)
    weight: int | None = Field(None, ge=1, le=10_000)
    groups: list[str] | None = None
    timeouts: dict[str, float] | None = None
    enabled: bool | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else checked_base_url(value)

    @field_validator("timeouts")
    @classmethod
    def _known_timeouts(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        return None if value is None else checked_timeouts(value)


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
        cooldown_until=as_utc(channel.cooldown_until),
        last_error=channel.last_error,
    )


def _timeouts(base: Timeouts, overrides: dict[str, float]) -> Timeouts:
    return replace(base, **checked_timeouts(overrides)) if overrides else base


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
        # a config-file setting (database channels do not carry it yet)
        native_responses=bool(getattr(source, "native_responses", False)),
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
        # Stored channels that could not be loaded (name -> reason): skipped, not fatal.
        self.invalid: dict[str, str] = {}

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
            if ref in self._config_names():
                raise invalid_request(
                    f"The channel '{ref}' comes from the config file (or is the embedded "
                    "model server): change it there, not here.",
                    param="channel",
                    code="read_only_channel",
                )
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
        for name, value in changes.items():
            if value is None and name not in NULLABLE:
                raise invalid_request(f"{name} cannot be null.", param=name)
        async with self._db.session() as session, session.begin():
            channel = await self._find(session, ref)
            if "api_keys" in changes:
                changes.update(self._keys(changes.pop("api_keys") or []))
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
        configs: list[ChannelConfig] = []
        invalid: dict[str, str] = {}
        for row in rows:
            if not row.enabled:
                continue
            try:
                configs.append(self._config(row))
            except Exception as exc:  # one bad row must not take the gateway down
                invalid[row.name] = f"{type(exc).__name__}: {exc}"[:300]
        for name, reason in invalid.items():
            if self.invalid.get(name) != reason:
                log.error("channel %r is invalid and stays disabled: %s", name, reason)
        self.invalid = invalid
        return configs

    async def config_of(self, ref: str) -> ChannelConfig:
        """One channel (database or config file) ready for a test request."""
        for channel in config_channels(self._settings):
            if channel.name == ref:
                return channel
        async with self._db.session() as session:
            row = await self._find(session, ref)
        try:
            return self._config(row)
        except Exception as exc:
            raise invalid_request(
                f"The channel '{row.name}' is invalid: {exc}", code="invalid_channel", status=409
            ) from None

    def _config(self, c: Channel) -> ChannelConfig:
        """The row, checked as the API checks new values (ValueError when it is not)."""
        known_protocol(c.type)
        checked_base_url(c.base_url)
        keys = [self._box.decrypt(k) for k in c.keys_encrypted]
        timeouts = _timeouts(default_timeouts(self._settings), dict(c.timeouts or {}))
        return channel_config(c, keys, timeouts, "database", c.name)

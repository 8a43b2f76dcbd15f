"""Users and API keys: creation, listing, revocation and request authentication."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from datetime import datetime

from cong.protocol.errors import (
    APIError,
    invalid_api_key,
    invalid_request,
    not_found,
    permission_denied,
)
from cong.services.credentials import NewKey, generate_key, hash_key, key_from_token, mask_key
from cong.storage import accounts as queries
from cong.storage.database import Database
from cong.storage.tables import ApiKey, User

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ROLES = ("admin", "user")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the user behind an API key, and what the key allows."""

    user_id: int
    user_name: str
    role: str
    key_id: str
    allowed_models: frozenset[str] | None
    group: str = "default"
    group_models: frozenset[str] | None = None
    multiplier_ppm: int = 1_000_000
    key_pk: int | None = None
    has_caps: bool = False
    key_period: str | None = None
    expires_at: float | None = None
    ip_allow: tuple[IPNetwork, ...] | None = None
    key_rpm: int | None = None
    key_tpm: int | None = None
    user_rpm: int | None = None
    user_tpm: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_use(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models

    def group_allows(self, model: str) -> bool:
        return self.group_models is None or model in self.group_models


@dataclass(frozen=True)
class KeyView:
    """A key as listings show it: never the secret nor its hash."""

    id: str
    name: str
    user: str
    masked: str
    models: list[str] | None
    enabled: bool
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey, user: User) -> KeyView:
        return cls(
            id=key.public_id,
            name=key.name,
            user=user.name,
            masked=mask_key(key.prefix, key.last4),
            models=key.models,
            enabled=key.enabled and key.revoked_at is None,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


@dataclass(frozen=True)
class UserView:
    id: int
    name: str
    role: str
    enabled: bool
    created_at: datetime


class Accounts:
    """Account operations. Authentication results are cached for ``cache_seconds``."""

    def __init__(self, db: Database, secret_key: bytes, cache_seconds: float = 5.0) -> None:
        self._db = db
        self._secret = secret_key
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal | APIError]] = {}

    async def authenticate(self, token: str, client_ip: str | None = None) -> Principal:
        principal = await self._principal(token)
        if principal.expires_at is not None and principal.expires_at <= time.time():
            raise invalid_api_key("This API key has expired.")
        if principal.ip_allow is not None and not _ip_allowed(client_ip, principal.ip_allow):
            raise permission_denied(
                f"Requests from your IP address ({client_ip}) are not allowed for this API key.",
                code="ip_not_allowed",
            )
        return principal

    async def _principal(self, token: str) -> Principal:
        digest = hash_key(self._secret, token)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            outcome = cached[1]
        else:
            outcome = await self._lookup(digest)
            # Unknown tokens are not cached: a key created a moment ago must work.
            if self._cache_seconds > 0 and not getattr(outcome, "unknown", False):
                if len(self._cache) > 100_000:
                    self._cache.clear()
                self._cache[digest] = (now + self._cache_seconds, outcome)
        if isinstance(outcome, APIError):
            raise outcome
        return outcome

    async def _lookup(self, digest: str) -> Principal | APIError:
        async with self._db.session() as session:
            found = await queries.find_key_by_hash(session, digest)
        if found is None:
            error = invalid_api_key()
            error.unknown = True  # type: ignore[attr-defined]
            return error
        key, user, group = found
        if key.revoked_at is not None:
            return invalid_api_key("This API key has been revoked.")
        if not key.enabled:
            return invalid_api_key("This API key is disabled.")
        if not user.enabled:
            return invalid_api_key("The user of this API key is disabled.")
        return Principal(
            user_id=user.id,
            user_name=user.name,
            role=user.role,
            key_id=key.public_id,
            allowed_models=frozenset(key.models) if key.models else None,
            group=group.name if group else "default",
            group_models=frozenset(group.models) if group and group.models is not None else None,
            multiplier_ppm=group.multiplier_ppm if group else 1_000_000,
            key_pk=key.id,
            has_caps=key.spend_cap is not None or key.period_cap is not None,
            key_period=key.period,
            expires_at=key.expires_at.timestamp() if key.expires_at else None,
            ip_allow=tuple(ipaddress.ip_network(n, strict=False) for n in key.ip_allow)
            if key.ip_allow
            else None,
            key_rpm=key.rpm,
            key_tpm=key.tpm,
            user_rpm=group.rpm if group else None,
            user_tpm=group.tpm if group else None,
        )

    def forget_cached(self) -> None:
        self._cache.clear()

    async def create_user(self, name: str, role: str = "user") -> UserView:
        name = name.strip()
        if not name or len(name) > 64:
            raise invalid_request("A user name must have 1 to 64 characters.", param="name")
        if role not in ROLES:
            raise invalid_request(f"role must be one of {', '.join(ROLES)}.", param="role")
        async with self._db.session() as session, session.begin():
            if await queries.get_user_by_name(session, name) is not None:
                raise invalid_request(
                    f"A user named '{name}' already exists.",
                    param="name",
                    code="conflict",
                    status=409,
                )
            user = await queries.create_user(session, name, role)
            return _user_view(user)

    async def list_users(self) -> list[UserView]:
        async with self._db.session() as session:
            return [_user_view(user) for user in await queries.list_users(session)]

    async def create_key(
        self,
        user_name: str,
        *,
        name: str = "",
        models: list[str] | None = None,
        token: str | None = None,
    ) -> tuple[NewKey, KeyView]:
        """Create a key; the returned token is shown once and never stored."""
        new = key_from_token(token) if token else generate_key()
        async with self._db.session() as session, session.begin():
            user = await queries.get_user_by_name(session, user_name)
            if user is None:
                raise not_found(f"No user named '{user_name}'.")
            key = await queries.add_key(
                session,
                user,
                public_id=new.public_id,
                key_hash=hash_key(self._secret, new.token),
                prefix=new.display_prefix,
                last4=new.last4,
                name=name,
                models=sorted(set(models)) if models else None,
            )
            return new, KeyView.of(key, user)

    async def list_keys(self, user_name: str | None = None) -> list[KeyView]:
        async with self._db.session() as session:
            user_id = None
            if user_name is not None:
                user = await queries.get_user_by_name(session, user_name)
                if user is None:
                    raise not_found(f"No user named '{user_name}'.")
                user_id = user.id
            return [KeyView.of(k, u) for k, u in await queries.list_keys(session, user_id)]

    async def revoke_key(self, public_id: str) -> None:
        async with self._db.session() as session, session.begin():
            if not await queries.revoke_key(session, public_id):
                raise not_found(f"No active API key with id '{public_id}'.")
        self.forget_cached()

    async def ensure_admin(self, token: str | None) -> str | None:
        """First start: create the admin user and key. Returns the new token, else None.

        With ``token`` (``CONG_ADMIN_TOKEN``) that exact token becomes an admin key if it
        is not one yet.
        """
        async with self._db.session() as session:
            admin = await queries.get_user_by_name(session, "admin")
            if token is not None and await queries.find_key_by_hash(
                session, hash_key(self._secret, token)
            ):
                return None
            has_admin = await queries.count_admins(session) > 0
        if token is None and has_admin:
            return None
        if admin is None:
            await self.create_user("admin", "admin")
        new, _ = await self.create_key("admin", name="admin", token=token)
        return new.token


def _ip_allowed(client_ip: str | None, networks: tuple[IPNetwork, ...]) -> bool:
    if client_ip is None:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def _user_view(user: User) -> UserView:
    return UserView(
        id=user.id,
        name=user.name,
        role=user.role,
        enabled=user.enabled,
        created_at=user.created_at,
    )

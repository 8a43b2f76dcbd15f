"""Users and API keys: creation, listing, revocation and request authentication."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from cong.accounts.credentials import NewKey, generate_key, hash_key, key_from_token
from cong.accounts.key_settings import UNSET, KeySettings, check_grant, normalized, with_period
from cong.accounts.principal import ROLES, IPNetwork, Principal
from cong.accounts.views import KeyView, UserView, as_utc, user_view
from cong.protocol.errors import (
    APIError,
    invalid_api_key,
    invalid_request,
    not_found,
    permission_denied,
)
from cong.single_flight import SingleFlight
from cong.storage import accounts as queries
from cong.storage.billing_tables import Group
from cong.storage.database import Database
from cong.storage.groups import find_group
from cong.storage.tables import ApiKey, User


class Accounts:
    """Account operations. Authentication results are cached for ``cache_seconds``."""

    def __init__(self, db: Database, secret_key: bytes, cache_seconds: float = 5.0) -> None:
        self._db = db
        self._secret = secret_key
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal | APIError]] = {}
        self._lookups: SingleFlight[str, Principal | APIError] = SingleFlight()
        self._generation = 0  # bumped by forget_cached: older lookups are not cached
        # Set by the app: tells the other gateway processes that keys or users changed.
        self.announce: Callable[[], None] | None = None

    async def authenticate(self, token: str, client_ip: str | None = None) -> Principal:
        return await self.authenticate_digest(hash_key(self._secret, token), client_ip)

    async def authenticate_digest(self, digest: str, client_ip: str | None = None) -> Principal:
        """Like :meth:`authenticate`, from the key's stored hash (a key sign-in session)."""
        principal = await self._principal(digest)
        if principal.expires_at is not None and principal.expires_at <= time.time():
            raise invalid_api_key("This API key has expired.")
        if principal.ip_allow is not None and not _ip_allowed(client_ip, principal.ip_allow):
            raise permission_denied(
                f"Requests from your IP address ({client_ip}) are not allowed for this API key.",
                code="ip_not_allowed",
            )
        return principal

    async def _principal(self, digest: str) -> Principal:
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            outcome = cached[1]
        else:
            generation = self._generation
            outcome = await self._lookups.run(digest, lambda: self._lookup(digest))
            # Unknown tokens are not cached: a key created a moment ago must work.
            if (
                self._cache_seconds > 0
                and generation == self._generation
                and not getattr(outcome, "unknown", False)
            ):
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
            expires_at=as_utc(key.expires_at).timestamp() if key.expires_at else None,
            ip_allow=tuple(ipaddress.ip_network(n, strict=False) for n in key.ip_allow)
            if key.ip_allow
            else None,
            key_rpm=key.rpm,
            key_tpm=key.tpm,
            user_rpm=group.rpm if group else None,
            user_tpm=group.tpm if group else None,
            memory_mode=key.memory_mode or (group.memory_mode if group else None),
        )

    def forget_cached(self) -> None:
        """Keys or users changed here: drop this process's cache and tell the others."""
        self.drop_cache()
        if self.announce is not None:
            self.announce()

    def drop_cache(self) -> None:
        self._cache.clear()
        self._generation += 1

    async def create_user(
        self, name: str, role: str = "user", *, group: str | None = None, credit_limit: int = 0
    ) -> UserView:
        name = _valid_name(name)
        if role not in ROLES:
            raise invalid_request(f"role must be one of {', '.join(ROLES)}.", param="role")
        async with self._db.session() as session, session.begin():
            if await queries.get_user_by_name(session, name) is not None:
                raise _conflict(f"A user named '{name}' already exists.", "name")
            user = await queries.create_user(session, name, role)
            user.credit_limit = _credit_limit(credit_limit)
            row = await _group(session, group) if group else None
            user.group_id = row.id if row else None
            return user_view(user, row)

    async def list_users(self) -> list[UserView]:
        async with self._db.session() as session:
            return [user_view(u, g) for u, g in await queries.users_with_groups(session)]

    async def get_user(self, ref: str | int) -> UserView:
        async with self._db.session() as session:
            return user_view(*await _user(session, ref))

    async def update_user(
        self,
        ref: str | int,
        *,
        name: str = UNSET,
        role: str = UNSET,
        enabled: bool = UNSET,
        group: str = UNSET,
        credit_limit: int = UNSET,
    ) -> UserView:
        """Change a user (admins only). The last admin cannot be demoted or disabled."""
        async with self._db.session() as session, session.begin():
            user, row = await _user(session, ref)
            if name is not UNSET and _valid_name(name) != user.name:
                if await queries.get_user_by_name(session, name.strip()) is not None:
                    raise _conflict(f"A user named '{name.strip()}' already exists.", "name")
                user.name = name.strip()
            if role is not UNSET and role not in ROLES:
                raise invalid_request(f"role must be one of {', '.join(ROLES)}.", param="role")
            losing_admin = user.role == "admin" and (role == "user" or enabled is False)
            if losing_admin and await queries.count_admins(session) <= 1:
                raise _conflict("This is the last admin; make another admin first.", "role")
            if role is not UNSET:
                user.role = role
            if enabled is not UNSET:
                user.enabled = bool(enabled)
            if credit_limit is not UNSET:
                user.credit_limit = _credit_limit(credit_limit)
            if group is not UNSET:
                row = await _group(session, group)
                user.group_id = row.id
            view = user_view(user, row)
        self.forget_cached()
        return view

    async def delete_user(self, ref: str | int) -> None:
        """Remove a user with their keys and ledger (their usage log rows stay)."""
        async with self._db.session() as session, session.begin():
            user, _ = await _user(session, ref)
            if user.role == "admin" and await queries.count_admins(session) <= 1:
                raise _conflict("This is the last admin; make another admin first.", "role")
            await queries.delete_user(session, user.id)
        self.forget_cached()

    async def create_key(
        self,
        user_name: str,
        *,
        name: str = "",
        models: list[str] | None = None,
        token: str | None = None,
        settings: KeySettings | None = None,
        actor: Principal | None = None,
    ) -> tuple[NewKey, KeyView]:
        """Create a key; the returned token is shown once and never stored. With an
        ``actor`` (an API caller), a non-admin may only make keys for themselves, within
        what the calling key has."""
        values = normalized(settings or KeySettings(name=name, models=models), creating=True)
        if actor is not None and not actor.is_admin and user_name != actor.user_name:
            raise permission_denied("You can only create keys for yourself.", code="not_owner")
        if actor is not None:
            check_grant(actor, values, creating=True)
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
                name=values.pop("name"),
                models=values.pop("models", None),
            )
            for field, value in with_period(values).items():
                setattr(key, field, value)
            return new, KeyView.of(key, user)

    async def list_keys(
        self, user_name: str | None = None, actor: Principal | None = None
    ) -> list[KeyView]:
        """All keys, or one user's; a non-admin ``actor`` sees only their own (another
        user's name is a 404, as if it did not exist)."""
        async with self._db.session() as session:
            user_id = None
            if actor is not None and not actor.is_admin:
                if user_name is not None and user_name != actor.user_name:
                    raise not_found(f"No user named '{user_name}'.")
                user_id = actor.user_id
            elif user_name is not None:
                user_id = (await _user(session, user_name))[0].id
            return [KeyView.of(k, u) for k, u in await queries.list_keys(session, user_id)]

    async def get_key(self, public_id: str, actor: Principal | None = None) -> KeyView:
        async with self._db.session() as session:
            return KeyView.of(*await _visible_key(session, public_id, actor))

    async def update_key(
        self, public_id: str, settings: KeySettings, actor: Principal | None = None
    ) -> KeyView:
        values = normalized(settings, creating=False)
        async with self._db.session() as session, session.begin():
            key, user = await _visible_key(session, public_id, actor)
            if actor is not None:
                check_grant(actor, values, creating=False)
            if key.revoked_at is not None and values.get("enabled"):
                raise _conflict("A revoked key cannot be enabled again.", "enabled")
            if "enabled" in values:
                by_admin = actor is None or actor.is_admin
                relock = values["enabled"] and not key.enabled and key.disabled_by_admin
                if relock and not by_admin:
                    raise permission_denied(
                        "An admin disabled this key; only an admin can enable it again.",
                        code="disabled_by_admin",
                    )
                key.disabled_by_admin = not values["enabled"] and (
                    by_admin or (key.disabled_by_admin and not key.enabled)
                )
            state = {"period_cap": key.period_cap, "period": key.period, **values}
            # A changed period kind restarts the period counter at the next request.
            for field, value in with_period(state).items():
                setattr(key, field, value)
            await session.flush()
            view = KeyView.of(key, user)
        self.forget_cached()
        return view

    async def delete_key(self, public_id: str, actor: Principal | None = None) -> None:
        async with self._db.session() as session, session.begin():
            key, _ = await _visible_key(session, public_id, actor)
            await queries.delete_key(session, key.id)
        self.forget_cached()

    async def revoke_key(self, public_id: str, actor: Principal | None = None) -> None:
        async with self._db.session() as session, session.begin():
            if actor is not None:
                await _visible_key(session, public_id, actor)
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


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64:
        raise invalid_request("A user name must have 1 to 64 characters.", param="name")
    if not name.isprintable():
        raise invalid_request(
            "A user name may not contain control characters (NUL, tab, newline …).",
            param="name",
        )
    return name


def _credit_limit(amount: int) -> int:
    if not 0 <= amount <= 10**15:
        raise invalid_request("credit_limit must be between 0 and 10^15.", param="credit_limit")
    return amount


def _conflict(message: str, param: str) -> APIError:
    return invalid_request(message, param=param, code="conflict", status=409)


async def _user(session: AsyncSession, ref: str | int) -> tuple[User, Group | None]:
    found = await queries.find_user(session, ref)
    if found is None:
        raise not_found(f"No user '{ref}'.")
    return found


async def _group(session: AsyncSession, name: str) -> Group:
    group = await find_group(session, name)
    if group is None:
        raise not_found(f"No group '{name}'.")
    return group


async def _visible_key(
    session: AsyncSession, public_id: str, actor: Principal | None
) -> tuple[ApiKey, User]:
    """A key the actor may see: any for admins and the CLI, else only their own (another
    user's key is a 404, exactly like a key that does not exist)."""
    found = await queries.get_key(session, public_id)
    if found is None or (actor is not None and not actor.is_admin and found[1].id != actor.user_id):
        raise not_found(f"No API key with id '{public_id}'.")
    return found

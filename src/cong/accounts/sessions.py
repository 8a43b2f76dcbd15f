"""Web sign-in: server-side sessions started with a password or a personal API key.

The browser holds a random session token in an ``HttpOnly`` cookie; the database holds
only ``HMAC(server secret, token)``. The CSRF token is derived from the session token
(``HMAC(secret, "csrf:" + token)``), so it needs no storage and changes with every
session. A session signed in with an API key has exactly that key's powers (it ends
when the key is revoked, disabled or expires); a password session has the user's.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cong.accounts.credentials import hash_key
from cong.accounts.passwords import Passwords, check_strength
from cong.accounts.principal import Principal
from cong.accounts.service import Accounts
from cong.accounts.views import as_utc
from cong.limits.base import Limit, RateLimiter
from cong.protocol.errors import APIError, invalid_api_key, invalid_request, not_found
from cong.settings import WebSettings
from cong.storage import accounts as account_queries
from cong.storage import web_sessions as queries
from cong.storage.billing_tables import Group
from cong.storage.database import Database
from cong.storage.tables import User

LANGUAGES = ("vi", "en")


@dataclass(frozen=True)
class Client:
    """Where a sign-in comes from (the address already resolved through trusted proxies)."""

    ip: str
    user_agent: str = ""


@dataclass(frozen=True)
class SessionView:
    """A signed-in session as the pages see it (never its token)."""

    principal: Principal
    via: str  # "password" or "key"
    language: str | None
    has_password: bool
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    token: str  # for the cookie only: never logged, never in a body or URL
    session: SessionView


class Sessions:
    def __init__(
        self,
        db: Database,
        secret_key: bytes,
        accounts: Accounts,
        passwords: Passwords,
        limiter: RateLimiter,
        settings: WebSettings,
    ) -> None:
        self._db = db
        self._secret = secret_key
        self._accounts = accounts
        self._passwords = passwords
        self._limiter = limiter
        self._settings = settings

    def _hash(self, token: str) -> str:
        return hash_key(self._secret, "session:" + token)

    def csrf_token(self, token: str) -> str:
        return hash_key(self._secret, "csrf:" + token)

    def csrf_ok(self, token: str, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(self.csrf_token(token), presented)

    async def sign_in_password(self, name: str, password: str, client: Client) -> SignedIn:
        await self.limit_attempt(client, name)
        async with self._db.session() as session:
            found = await account_queries.find_user(session, name.strip())
        user = found[0] if found is not None and found[0].name == name.strip() else None
        stored = user.password_hash if user is not None else None
        if not await self._passwords.verify(stored, password) or user is None:
            raise _bad_sign_in("Incorrect user name or password.")
        if not user.enabled:
            raise _bad_sign_in("This account is disabled.")
        return await self._start(user.id, None, client)

    async def sign_in_key(self, token: str, client: Client) -> SignedIn:
        await self.limit_attempt(client, None)
        principal = await self._accounts.authenticate(token.strip(), client.ip)
        if principal.key_pk is None:
            raise invalid_api_key()
        return await self._start(principal.user_id, principal.key_pk, client)

    async def _start(self, user_id: int, key_pk: int | None, client: Client) -> SignedIn:
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        async with self._db.session() as session, session.begin():
            await queries.delete_expired(session, now)
            await queries.add_session(
                session,
                token_hash=self._hash(token),
                user_id=user_id,
                key_id=key_pk,
                expires_at=now + timedelta(hours=self._settings.session_hours),
                ip=client.ip,
                user_agent=client.user_agent,
            )
        return SignedIn(token, await self.current(token, client.ip))

    async def current(self, token: str, client_ip: str | None) -> SessionView:
        """The live session for a cookie's token, else 401."""
        digest = self._hash(token)
        async with self._db.session() as session:
            found = await queries.find_session(session, digest)
        if found is None:
            raise _session_ended()
        row, user, group, key = found
        expires_at = as_utc(row.expires_at)
        if expires_at <= datetime.now(UTC) or not user.enabled:
            raise _session_ended()
        if row.key_id is not None:
            if key is None:
                raise _session_ended()
            principal = await self._accounts.authenticate_digest(key.key_hash, client_ip)
            via = "key"
        else:
            principal = user_principal(user, group)
            via = "password"
        return SessionView(
            principal, via, user.language, user.password_hash is not None, expires_at
        )

    async def sign_out(self, token: str) -> None:
        async with self._db.session() as session, session.begin():
            await queries.delete_session(session, self._hash(token))

    async def change_password(
        self, principal: Principal, current: str | None, new: str, keep_token: str | None
    ) -> None:
        """Change the caller's own password; their other sessions end. With no password
        set yet, being signed in (with the user's key) is enough to set the first one."""
        check_strength(new, "new_password")
        async with self._db.session() as session:
            found = await account_queries.find_user(session, principal.user_id)
        if found is None:
            raise not_found("No such user.")
        stored = found[0].password_hash
        if stored is not None and not await self._passwords.verify(stored, current or ""):
            raise invalid_request(
                "The current password is not correct.",
                param="current_password",
                code="wrong_password",
            )
        await self._store(principal.user_id, new, keep_token)

    async def reset_password(self, ref: str | int, new: str | None) -> None:
        """An admin sets (or, with None, removes) a user's password; their sessions end."""
        async with self._db.session() as session:
            found = await account_queries.find_user(session, ref)
        if found is None:
            raise not_found(f"No user '{ref}'.")
        await self._store(found[0].id, new, None)

    async def _store(self, user_id: int, new: str | None, keep_token: str | None) -> None:
        value = await self._passwords.hash(new) if new is not None else None
        keep = self._hash(keep_token) if keep_token is not None else None
        async with self._db.session() as session, session.begin():
            await queries.set_password_hash(session, user_id, value)
            await queries.delete_user_sessions(session, user_id, keep)

    async def set_language(self, user_id: int, language: str | None) -> None:
        if language is not None and language not in LANGUAGES:
            raise invalid_request(
                f"language must be one of {', '.join(LANGUAGES)} or null.", param="language"
            )
        async with self._db.session() as session, session.begin():
            await queries.set_language(session, user_id, language)

    async def language(self, user_id: int) -> str | None:
        async with self._db.session() as session:
            found = await account_queries.find_user(session, user_id)
        return found[0].language if found is not None else None

    async def limit_attempt(self, client: Client, name: str | None) -> None:
        """Count one sign-in attempt against the client address and the account name."""
        limits = [Limit(f"login-ip:{client.ip}", rpm=self._settings.login_attempts_per_ip)]
        if name is not None:
            account = name.strip().lower()[:64]
            limits.append(
                Limit(f"login-account:{account}", rpm=self._settings.login_attempts_per_account)
            )
        decision = await self._limiter.acquire(limits, 0)
        if not decision.allowed:
            wait = max(1, round(decision.retry_after or 60))
            raise APIError(
                429,
                f"Too many sign-in attempts; try again in {wait} seconds.",
                type="requests",
                code="too_many_sign_in_attempts",
                headers={"retry-after": str(wait)},
            )


def user_principal(user: User, group: Group | None) -> Principal:
    """A password session's powers: the user's and their group's, no key restriction."""
    return Principal(
        user_id=user.id,
        user_name=user.name,
        role=user.role,
        key_id="",
        allowed_models=None,
        group=group.name if group else "default",
        group_models=frozenset(group.models) if group and group.models is not None else None,
        multiplier_ppm=group.multiplier_ppm if group else 1_000_000,
        user_rpm=group.rpm if group else None,
        user_tpm=group.tpm if group else None,
        memory_mode=group.memory_mode if group else None,
    )


def _bad_sign_in(message: str) -> APIError:
    return APIError(401, message, type="invalid_request_error", code="invalid_credentials")


def _session_ended() -> APIError:
    return APIError(
        401,
        "Your session has ended; sign in again.",
        type="invalid_request_error",
        code="invalid_session",
    )

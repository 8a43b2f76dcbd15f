"""Self-registration, an admin setting: ``off`` (the default), ``open``, or ``code``
(a one-time redemption code is needed; its amount goes into the new user's wallet)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cong.accounts.passwords import Passwords, check_strength
from cong.accounts.service import Accounts
from cong.accounts.views import UserView
from cong.protocol.errors import APIError, invalid_request, not_found, permission_denied
from cong.storage import web_sessions as queries
from cong.storage.database import Database
from cong.storage.groups import find_group

MODES = ("off", "open", "code")
SETTING = "registration"

# Credits a code to a user (billing's Codes.redeem); raises APIError when the code is bad.
Redeem = Callable[[int, str], Awaitable[Any]]


@dataclass(frozen=True)
class Policy:
    mode: str = "off"
    group: str | None = None  # the group new users join; None: the default group


class Registration:
    def __init__(
        self, db: Database, accounts: Accounts, passwords: Passwords, redeem: Redeem
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._passwords = passwords
        self._redeem = redeem

    async def policy(self) -> Policy:
        async with self._db.session() as session:
            value = await queries.get_setting(session, SETTING)
        if not isinstance(value, dict) or value.get("mode") not in MODES:
            return Policy()
        return Policy(mode=value["mode"], group=value.get("group"))

    async def set_policy(self, mode: str, group: str | None) -> Policy:
        if mode not in MODES:
            raise invalid_request(f"mode must be one of {', '.join(MODES)}.", param="mode")
        async with self._db.session() as session, session.begin():
            if group is not None and await find_group(session, group) is None:
                raise not_found(f"No group '{group}'.")
            await queries.put_setting(session, SETTING, {"mode": mode, "group": group})
        return Policy(mode, group)

    async def register(self, name: str, password: str, code: str | None) -> UserView:
        policy = await self.policy()
        if policy.mode == "off":
            raise permission_denied(
                "Self-registration is turned off; ask an admin for an account.",
                code="registration_closed",
            )
        if policy.mode == "code" and not (code and code.strip()):
            raise invalid_request("A redemption code is needed to register.", param="code")
        check_strength(password)
        hashed = await self._passwords.hash(password)
        user = await self._accounts.create_user(name, "user", group=policy.group)
        if policy.mode == "code":
            assert code is not None
            try:
                await self._redeem(user.id, code)
            except APIError as error:
                await self._accounts.delete_user(user.id)
                error.param = "code"
                raise
        async with self._db.session() as session, session.begin():
            await queries.set_password_hash(session, user.id, hashed)
        return user

"""Password hashing: argon2id (argon2-cffi, its RFC 9106 low-memory profile).

Hashing and verifying take tens of milliseconds of CPU on purpose, so they run in a
worker thread, never on the event loop. An unknown user name is checked against a dummy
hash, so the time taken does not reveal whether the name exists.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cong.protocol.errors import invalid_request

MIN_LENGTH = 8
MAX_LENGTH = 1024


class Passwords:
    def __init__(self) -> None:
        self._hasher = PasswordHasher()
        self._dummy = self._hasher.hash("not a password of anyone")

    async def hash(self, password: str) -> str:
        check_strength(password)
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (None: no password set: always False,
        after the same work as a real check)."""
        return await asyncio.to_thread(self._verify, stored, password[:MAX_LENGTH])

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


def check_strength(password: str, param: str = "password") -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise invalid_request(
            f"A password must have {MIN_LENGTH} to {MAX_LENGTH} characters.", param=param
        )
    if password.strip() == "" or len(set(password)) < 3:
        raise invalid_request("This password is too easy to guess.", param=param)

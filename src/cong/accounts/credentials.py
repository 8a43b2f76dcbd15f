"""API key format and keyed hashing.

A key is ``sk-`` + a 12-character public id + a 40-character secret (base62). Only
``HMAC-SHA256(server_secret, key)`` is stored, so a leaked database does not reveal keys
and cannot be brute-forced offline without the server secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

from cong.settings import Settings

ALPHABET = string.ascii_letters + string.digits
PUBLIC_ID_LENGTH = 12
SECRET_LENGTH = 40
KEY_PREFIX = "sk-"


@dataclass(frozen=True)
class NewKey:
    token: str
    public_id: str

    @property
    def display_prefix(self) -> str:
        return self.token[: len(KEY_PREFIX) + PUBLIC_ID_LENGTH]

    @property
    def last4(self) -> str:
        return self.token[-4:]


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def generate_key() -> NewKey:
    public_id = _random(PUBLIC_ID_LENGTH)
    return NewKey(token=f"{KEY_PREFIX}{public_id}{_random(SECRET_LENGTH)}", public_id=public_id)


def key_from_token(token: str) -> NewKey:
    """Describe an operator-chosen token (``CONG_ADMIN_TOKEN``) like a generated key."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    if token.startswith(KEY_PREFIX) and len(token) == len(KEY_PREFIX) + PUBLIC_ID_LENGTH + (
        SECRET_LENGTH
    ):
        return NewKey(token=token, public_id=token[3 : 3 + PUBLIC_ID_LENGTH])
    return NewKey(token=token, public_id=f"fixed{digest[:7]}")


def hash_key(secret_key: bytes, token: str) -> str:
    return hmac.new(secret_key, token.encode(), hashlib.sha256).hexdigest()


def mask_key(prefix: str, last4: str) -> str:
    return f"{prefix}…{last4}"


def load_or_create_secret(data_dir: Path, configured: str | None) -> bytes:
    """The server secret: ``CONG_SECRET_KEY`` or ``<data dir>/secret.key`` (made once, 0600)."""
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    try:
        os.write(fd, value)
    finally:
        os.close(fd)
    return value


def server_secret(settings: Settings) -> bytes:
    """The server secret for these settings (see :func:`load_or_create_secret`)."""
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    return load_or_create_secret(settings.data_dir, configured)

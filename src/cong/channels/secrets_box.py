"""Encryption at rest for channel credentials (Fernet: AES-128-CBC + HMAC-SHA256).

The encryption key is derived from the server secret (``CONG_SECRET_KEY`` or
``<data dir>/secret.key``) with HKDF, so the database alone never reveals provider keys.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretBox:
    def __init__(self, server_secret: bytes) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"cong-channel-keys", info=b"fernet-v1"
        ).derive(server_secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError(
                "a channel key cannot be decrypted: the server secret changed since it was "
                "stored (restore CONG_SECRET_KEY / secret.key, or set the key again)"
            ) from None

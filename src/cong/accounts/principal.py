"""Who is calling: the user behind an API key (or a web session), with what the key,
the user and the group allow. Built by authentication, read by every domain."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

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
    # "off", "history" or "full" from the key, else its group; None: the default.
    memory_mode: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_use(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models

    def group_allows(self, model: str) -> bool:
        return self.group_models is None or model in self.group_models

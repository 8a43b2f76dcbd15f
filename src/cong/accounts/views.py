"""Users and API keys as the API and the command line show them: never a key's secret
nor its hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import overload

from cong.accounts.credentials import mask_key
from cong.storage.accounts import DEFAULT_GROUP
from cong.storage.billing_tables import Group
from cong.storage.tables import ApiKey, User


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """Datetimes read back from SQLite have no zone; every stored time is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


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
    user_id: int = 0
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    spend_cap: int | None = None
    period_cap: int | None = None
    period: str | None = None
    spent: int = 0
    period_spent: int = 0
    period_start: str | None = None
    reserved: int = 0
    ip_allow: list[str] | None = None
    rpm: int | None = None
    tpm: int | None = None

    @classmethod
    def of(cls, key: ApiKey, user: User) -> KeyView:
        return cls(
            id=key.public_id,
            name=key.name,
            user=user.name,
            masked=mask_key(key.prefix, key.last4),
            models=key.models,
            enabled=key.enabled and key.revoked_at is None,
            created_at=as_utc(key.created_at),
            revoked_at=as_utc(key.revoked_at),
            user_id=user.id,
            expires_at=as_utc(key.expires_at),
            last_used_at=as_utc(key.last_used_at),
            spend_cap=key.spend_cap,
            period_cap=key.period_cap,
            period=key.period,
            spent=key.spent or 0,
            period_spent=key.period_spent or 0,
            period_start=key.period_start,
            reserved=key.reserved or 0,
            ip_allow=key.ip_allow,
            rpm=key.rpm,
            tpm=key.tpm,
        )


@dataclass(frozen=True)
class UserView:
    id: int
    name: str
    role: str
    enabled: bool
    created_at: datetime
    group: str = "default"
    balance: int = 0
    credit_limit: int = 0


def user_view(user: User, group: Group | None = None) -> UserView:
    return UserView(
        id=user.id,
        name=user.name,
        role=user.role,
        enabled=user.enabled,
        created_at=as_utc(user.created_at),
        group=group.name if group else DEFAULT_GROUP,
        balance=user.balance or 0,
        credit_limit=user.credit_limit or 0,
    )

"""Request and response bodies of ``/api/users``, ``/api/keys``, ``/api/me`` and
``/api/key/usage``. Amounts come in as decimal numbers or strings in currency units and
go out twice: ``*_micros`` (integer micro-units) and a decimal string."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cong.accounts.key_settings import KeySettings
from cong.accounts.views import KeyView, UserView
from cong.billing.reports import KeyUsage, ModelTotals
from cong.http.view_models import ViewModel
from cong.money import money, optional_micros, optional_money, to_micros

Money = Decimal | None
KEY_FIELDS = ("name", "models", "enabled", "expires_at", "ip_allow", "rpm", "tpm", "period")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    role: Literal["user", "admin"] = "user"
    group: str | None = Field(None, description="group name (default: the default group)")
    credit_limit: Decimal = Field(
        Decimal(0), description="how far below zero the balance may go, in currency units"
    )
    password: str | None = Field(
        None,
        description="a password for the web sign-in (8 to 1024 characters); checked before "
        "the user is created",
    )


class UserPatch(BaseModel):
    """Fields left out are not changed. Balances change only through top-ups,
    adjustments and redemption codes."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=64)
    role: Literal["user", "admin"] | None = None
    enabled: bool | None = Field(None, strict=True)
    group: str | None = None
    credit_limit: Decimal | None = None

    def changes(self) -> dict[str, object]:
        values: dict[str, object] = {
            k: getattr(self, k) for k in self.model_fields_set if getattr(self, k) is not None
        }
        if "credit_limit" in values:
            values["credit_limit"] = to_micros(self.credit_limit or 0, param="credit_limit")
        return values


class UserOut(ViewModel):
    id: int
    name: str
    role: str
    enabled: bool
    group: str
    balance_micros: int
    balance: str
    credit_limit_micros: int
    credit_limit: str
    available_micros: int = Field(description="balance + credit limit")
    available: str
    created_at: datetime

    @classmethod
    def of(cls, user: UserView) -> UserOut:
        return cls.from_view(
            user,
            amounts=("balance", "credit_limit", "available"),
            available=user.balance + user.credit_limit,
        )


class KeyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=128)
    models: list[str] | None = Field(None, description="model ids the key may use; null: all")
    enabled: bool | None = Field(None, strict=True)
    expires_at: datetime | None = Field(None, description="null: never expires")
    spend_cap: Money = Field(None, description="lifetime spend cap in currency units")
    period_cap: Money = Field(None, description="spend cap per period in currency units")
    period: Literal["day", "month"] | None = Field(None, description="period of period_cap")
    ip_allow: list[str] | None = Field(None, description="allowed client IPs / CIDRs")
    rpm: int | None = Field(None, ge=1, strict=True, description="requests per minute")
    tpm: int | None = Field(None, ge=1, strict=True, description="tokens per minute")

    def settings(self) -> KeySettings:
        """The fields the request sent (an explicit null clears a limit)."""
        sent = self.model_fields_set
        values = {name: getattr(self, name) for name in KEY_FIELDS if name in sent}
        for cap in ("spend_cap", "period_cap"):
            if cap in sent:
                values[cap] = optional_micros(getattr(self, cap), param=cap)
        return KeySettings(**values)


class KeyCreate(KeyFields):
    user: str | None = Field(None, description="owner's name (admins only; default: you)")


class KeyPatch(KeyFields):
    """Fields left out are not changed; null clears a limit."""


class KeyOut(ViewModel):
    """A key without its secret: the id and a masked form (prefix and last 4)."""

    id: str
    name: str
    user: str
    user_id: int
    masked: str
    models: list[str] | None
    enabled: bool
    state: Literal["active", "disabled", "revoked", "expired"]
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None
    spend_cap_micros: int | None
    spend_cap: str | None
    period_cap_micros: int | None
    period_cap: str | None
    period: str | None
    spent_micros: int
    spent: str
    ip_allow: list[str] | None
    rpm: int | None
    tpm: int | None

    @classmethod
    def of(cls, key: KeyView) -> KeyOut:
        return cls.from_view(
            key, amounts=("spend_cap", "period_cap", "spent"), state=key_state(key)
        )


class KeyCreated(KeyOut):
    key: str = Field(description="the API key itself: shown this once, never again")


class MeOut(BaseModel):
    user: UserOut
    key: KeyOut | None = Field(
        description="the key this request was made with (null: a password web session)"
    )


class TotalsOut(ViewModel):
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_micros: int
    cost: str

    @classmethod
    def of(cls, totals: ModelTotals) -> TotalsOut:
        return cls.from_view(totals, amounts=("cost",))


class KeyUsageOut(BaseModel):
    key: KeyOut
    since: str | None = Field(description="first day counted (YYYY-MM-DD); null: all kept")
    totals: TotalsOut
    by_model: list[TotalsOut]
    period_spent_micros: int
    period_spent: str
    spend_remaining_micros: int | None = Field(description="left under the lifetime cap")
    spend_remaining: str | None
    period_remaining_micros: int | None = Field(description="left under the period cap")
    period_remaining: str | None
    wallet_available_micros: int = Field(description="the owner's balance + credit limit")
    wallet_available: str
    remaining_micros: int = Field(description="what the key may still spend")
    remaining: str
    limited_by: Literal["wallet", "spend_cap", "period_cap"]

    @classmethod
    def of(cls, usage: KeyUsage) -> KeyUsageOut:
        return cls(
            key=KeyOut.of(usage.key),
            since=usage.since,
            totals=TotalsOut.of(usage.totals),
            by_model=[TotalsOut.of(t) for t in usage.by_model],
            period_spent_micros=usage.period_spent,
            period_spent=money(usage.period_spent),
            spend_remaining_micros=usage.spend_remaining,
            spend_remaining=optional_money(usage.spend_remaining),
            period_remaining_micros=usage.period_remaining,
            period_remaining=optional_money(usage.period_remaining),
            wallet_available_micros=usage.wallet_available,
            wallet_available=money(usage.wallet_available),
            remaining_micros=usage.remaining,
            remaining=money(usage.remaining),
            limited_by=usage.limited_by,
        )


def key_state(key: KeyView) -> Literal["active", "disabled", "revoked", "expired"]:
    if key.revoked_at is not None:
        return "revoked"
    if not key.enabled:
        return "disabled"
    if key.expires_at is not None and key.expires_at <= datetime.now(UTC):
        return "expired"
    return "active"

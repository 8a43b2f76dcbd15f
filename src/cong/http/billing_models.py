"""Request and response bodies of the groups, wallets, codes, prices, usage and ledger
API. Amounts come in as decimal numbers or strings in currency units and go out twice:
``*_micros`` (integer micro-units) and a decimal string."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from cong.accounts.groups import GroupView
from cong.billing.codes import CodeView, NewBatch, Redeemed
from cong.billing.price_book import PriceView
from cong.billing.reports import LedgerView, UsageView, WalletView
from cong.http.view_models import ViewModel
from cong.money import money, ppm_text


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    models: list[str] | None = Field(None, description="models members may use; null: all")
    multiplier: Decimal = Field(Decimal(1), description="price multiplier, e.g. 1.5 or 0.8")
    rpm: int | None = Field(None, ge=1, strict=True, description="requests per minute, per member")
    tpm: int | None = Field(None, ge=1, strict=True, description="tokens per minute, per member")


class GroupPatch(BaseModel):
    """Fields left out are not changed; null clears models (all) or a limit."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=64)
    models: list[str] | None = None
    multiplier: Decimal | None = None
    rpm: int | None = Field(None, ge=1, strict=True)
    tpm: int | None = Field(None, ge=1, strict=True)


class GroupOut(ViewModel):
    id: int
    name: str
    models: list[str] | None
    multiplier: str
    multiplier_ppm: int
    rpm: int | None
    tpm: int | None
    members: int
    created_at: datetime

    @classmethod
    def of(cls, group: GroupView) -> GroupOut:
        return cls.from_view(group, multiplier=ppm_text(group.multiplier_ppm))


class AmountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(description="in currency units, e.g. 10 or '2.5'")
    note: str = Field("", max_length=256)


class LedgerOut(ViewModel):
    id: int
    created_at: datetime
    user_id: int
    user: str | None
    kind: str
    amount_micros: int
    amount: str
    request_id: str | None
    key_id: str | None
    note: str

    @classmethod
    def of(cls, entry: LedgerView) -> LedgerOut:
        return cls.from_view(entry, amounts=("amount",))


class LedgerPage(BaseModel):
    data: list[LedgerOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")


class WalletOut(ViewModel):
    user_id: int
    user: str
    balance_micros: int
    balance: str
    credit_limit_micros: int
    credit_limit: str
    available_micros: int
    available: str
    open_reservations: int = Field(description="requests holding funds right now")
    recent: list[LedgerOut]

    @classmethod
    def of(cls, wallet: WalletView) -> WalletOut:
        return cls.from_view(
            wallet,
            amounts=("balance", "credit_limit", "available"),
            recent=[LedgerOut.of(e) for e in wallet.recent],
        )


class CodesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Decimal = Field(description="value of each code, in currency units")
    count: int = Field(1, ge=1, le=1000, strict=True)
    batch: str | None = Field(None, max_length=64, description="a name for the batch")
    expires_at: datetime | None = None
    expires_in_days: int | None = Field(None, ge=1, le=3650, strict=True)


class CodesOut(BaseModel):
    batch: str
    amount_micros: int
    amount: str
    expires_at: datetime | None
    codes: list[str] = Field(description="the codes: shown this once, never again")

    @classmethod
    def of(cls, batch: NewBatch) -> CodesOut:
        return cls(
            batch=batch.batch,
            amount_micros=batch.amount,
            amount=money(batch.amount),
            expires_at=batch.expires_at,
            codes=batch.codes,
        )


class CodeOut(ViewModel):
    id: int
    batch: str
    masked: str
    amount_micros: int
    amount: str
    state: str
    expires_at: datetime | None
    redeemed_by: str | None
    redeemed_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, code: CodeView) -> CodeOut:
        return cls.from_view(code, amounts=("amount",), state=code.state)


class CodePage(BaseModel):
    data: list[CodeOut]
    next_cursor: str | None


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64)


class RedeemOut(BaseModel):
    amount_micros: int
    amount: str
    balance_micros: int
    balance: str

    @classmethod
    def of(cls, redeemed: Redeemed) -> RedeemOut:
        return cls(
            amount_micros=redeemed.amount,
            amount=money(redeemed.amount),
            balance_micros=redeemed.balance,
            balance=money(redeemed.balance),
        )


class PriceIn(BaseModel):
    """Currency units per 1M tokens (input, cached_input, output), per call and per image.
    Fields left out keep their value; a new model starts at zero (free). cached_input
    follows input (no discount) until it is set apart."""

    model_config = ConfigDict(extra="forbid")

    input: Decimal | None = None
    cached_input: Decimal | None = None
    output: Decimal | None = None
    per_call: Decimal | None = None
    per_image: Decimal | None = None


PRICE_NAMES = {
    "input": "input_per_m",
    "cached_input": "cached_input_per_m",
    "output": "output_per_m",
    "per_call": "per_call",
    "per_image": "per_image",
}


class PriceOut(BaseModel):
    model: str
    input_micros: int = Field(description="per 1M input tokens")
    input: str
    cached_input_micros: int = Field(description="per 1M cached input tokens")
    cached_input: str
    output_micros: int = Field(description="per 1M output tokens")
    output: str
    per_call_micros: int
    per_call: str
    per_image_micros: int
    per_image: str
    free: bool
    updated_at: datetime | None

    @classmethod
    def of(cls, price: PriceView) -> PriceOut:
        fields: dict[str, object] = {}
        for name, column in PRICE_NAMES.items():
            value = int(getattr(price, column))
            fields[f"{name}_micros"] = value
            fields[name] = money(value)
        free = not any(getattr(price, column) for column in PRICE_NAMES.values())
        return cls.model_validate(
            {"model": price.model, **fields, "free": free, "updated_at": price.updated_at}
        )


class UsageOut(ViewModel):
    id: int
    request_id: str
    created_at: datetime
    user_id: int
    user: str | None
    key_id: str
    group: str
    endpoint: str
    model: str
    served_model: str
    channel: str | None = Field(description="the upstream channel (admins only)")
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cost_micros: int
    cost: str
    latency_ms: int
    ttft_ms: int | None
    status: int
    stream: bool
    end_reason: str
    estimated: bool

    @classmethod
    def of(cls, row: UsageView) -> UsageOut:
        return cls.from_view(row, amounts=("cost",))


class UsagePage(BaseModel):
    data: list[UsageOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page")

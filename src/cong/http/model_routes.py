"""``/api/models``: the models catalogue for the caller (what they may call, with
aliases, owner, context length, capabilities, the price for their group and live
state); an admin corrects a model's context length or capabilities."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from cong.catalogue.service import CatalogueEntry, GroupPrice
from cong.http.context import services_of
from cong.http.dependencies import Admin, Caller
from cong.money import money

router = APIRouter(prefix="/api/models", tags=["models"])
routers = (router,)

Capability = Literal["chat", "tools", "vision", "json", "reasoning", "embeddings", "images"]


class ModelPriceOut(BaseModel):
    """Per million tokens / per call / per image, for the caller's group (currency
    units as decimal strings, and the same in integer micro-units)."""

    input_per_m: str
    input_per_m_micros: int
    cached_input_per_m: str
    cached_input_per_m_micros: int
    output_per_m: str
    output_per_m_micros: int
    per_call: str
    per_call_micros: int
    per_image: str
    per_image_micros: int

    @classmethod
    def of(cls, price: GroupPrice) -> ModelPriceOut:
        data: dict[str, object] = {}
        for name in ("input_per_m", "cached_input_per_m", "output_per_m", "per_call", "per_image"):
            value = getattr(price, name)
            data[name], data[f"{name}_micros"] = money(value), value
        return cls.model_validate(data)


class ModelEntryOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    kind: Literal["chat", "embedding", "image"]
    alias_of: str | None = Field(description="the model this alias serves")
    aliases: list[str] = Field(description="other names for this model")
    owned_by: str
    created: int
    context_length: int | None = Field(description="tokens; null when unknown")
    capabilities: list[Capability]
    price: ModelPriceOut | None = Field(description="null: no price, the model is refused")
    state: Literal["up", "degraded", "down"] = Field(
        description="down: every channel's circuit is open; degraded: some are"
    )

    @classmethod
    def of(cls, entry: CatalogueEntry) -> ModelEntryOut:
        return cls(
            id=entry.id,
            kind=entry.kind,
            alias_of=entry.alias_of,
            aliases=list(entry.aliases),
            owned_by=entry.owned_by,
            created=entry.created,
            context_length=entry.context_length,
            capabilities=list(entry.capabilities),
            price=ModelPriceOut.of(entry.price) if entry.price else None,
            state=entry.state,
        )


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelEntryOut]


class ModelInfoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    context_length: int | None = Field(None, ge=1, le=100_000_000, strict=True)
    capabilities: list[Capability] | None = None


@router.get("", summary="The models you may call, with context, capabilities, price, state")
async def list_models(request: Request, caller: Caller) -> ModelList:
    entries = await services_of(request).catalogue.entries(caller)
    return ModelList(data=[ModelEntryOut.of(e) for e in entries])


@router.get("/{model:path}", summary="One model of the catalogue")
async def get_model(request: Request, model: str, caller: Caller) -> ModelEntryOut:
    return ModelEntryOut.of(await services_of(request).catalogue.entry(caller, model))


@router.put(
    "/{model:path}",
    summary="Set a model's context length and capabilities (admin; null: built-in facts)",
)
async def set_model_info(
    request: Request, model: str, body: ModelInfoIn, admin: Admin
) -> ModelEntryOut:
    catalogue = services_of(request).catalogue
    capabilities = [str(c) for c in body.capabilities] if body.capabilities is not None else None
    await catalogue.set_info(model, body.context_length, capabilities)
    return ModelEntryOut.of(await catalogue.entry(admin, model))

"""The models catalogue as a caller sees it: what they may call, with aliases, owner,
context length, capabilities, the price for their group and the live state of the
channels behind each model. Also the extra fields of ``/v1/models`` entries
(OpenRouter-style ``context_length``, ``pricing``, ``capabilities``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cong.accounts.principal import Principal
from cong.billing.pricing import MILLION, Prices, PriceSheet
from cong.catalogue.model_info import CAPABILITIES, ModelInfo, known_info, merged
from cong.channels.catalog import EMBEDDED, Catalog, ModelCard, ModelRoute
from cong.channels.catalog_loader import CatalogLoader
from cong.channels.health import ChannelHealth
from cong.money import PPM
from cong.protocol.errors import APIError, invalid_request, model_not_found
from cong.settings import Settings
from cong.storage import web_sessions as queries
from cong.storage.database import Database

SETTING = "model_info"


@dataclass(frozen=True)
class GroupPrice:
    """Micro-units, with the caller's group multiplier applied; None: no price set."""

    input_per_m: int
    cached_input_per_m: int
    output_per_m: int
    per_call: int
    per_image: int


@dataclass(frozen=True)
class CatalogueEntry:
    id: str
    kind: str
    alias_of: str | None
    aliases: tuple[str, ...]
    owned_by: str
    created: int
    context_length: int | None
    capabilities: tuple[str, ...]
    price: GroupPrice | None
    state: str  # "up", "degraded" (some channels cooling down) or "down"


class ModelCatalogue:
    def __init__(
        self,
        db: Database,
        loader: CatalogLoader,
        health: ChannelHealth,
        prices: Prices,
        settings: Settings,
    ) -> None:
        self._db = db
        self._loader = loader
        self._health = health
        self._prices = prices
        self._settings = settings
        self._overrides: tuple[float, dict[str, dict[str, Any]]] | None = None

    async def entries(self, principal: Principal) -> list[CatalogueEntry]:
        catalog = self._loader.catalog
        cards = catalog.cards(principal)
        overrides = await self._load_overrides()
        aliases: dict[str, list[str]] = {}
        for card in cards:
            if card.alias_of is not None:
                aliases.setdefault(card.alias_of, []).append(card.id)
        return [
            await self._entry(catalog, principal, card, overrides, tuple(aliases.get(card.id, ())))
            for card in cards
        ]

    async def entry(self, principal: Principal, model: str) -> CatalogueEntry:
        for entry in await self.entries(principal):
            if entry.id == model:
                return entry
        raise model_not_found(model)

    async def info_of(self, principal: Principal, model: str) -> ModelInfo | None:
        """The context length and capabilities of a chat ``model`` the caller may use
        (None for anything else; the gateway answers those requests with its error)."""
        catalog = self._loader.catalog
        try:
            routes = catalog.authorize(principal, model, "chat")
        except APIError:
            return None
        target = routes[0].id
        return merged(self._known(target, routes[0]), (await self._load_overrides()).get(target))

    async def v1_fields(self, principal: Principal, cards: list[ModelCard]) -> list[dict[str, Any]]:
        """The extra fields of each ``/v1/models`` entry, in the order of ``cards``."""
        catalog = self._loader.catalog
        overrides = await self._load_overrides()
        out = []
        for card in cards:
            entry = await self._entry(catalog, principal, card, overrides, ())
            out.append(
                {
                    "context_length": entry.context_length,
                    "pricing": per_token_pricing(entry.price),
                    "capabilities": list(entry.capabilities),
                }
            )
        return out

    async def set_info(
        self, model: str, context_length: int | None, capabilities: list[str] | None
    ) -> None:
        """An admin's correction of a model's context length / capabilities (None: back
        to the built-in facts)."""
        if model not in self._loader.catalog.routes:
            raise model_not_found(model)
        if capabilities is not None and not set(capabilities) <= set(CAPABILITIES):
            raise invalid_request(
                f"capabilities are among {', '.join(CAPABILITIES)}.", param="capabilities"
            )
        async with self._db.session() as session, session.begin():
            current = dict(await queries.get_setting(session, SETTING) or {})
            value: dict[str, Any] = {}
            if context_length is not None:
                value["context_length"] = context_length
            if capabilities is not None:
                value["capabilities"] = capabilities
            if value:
                current[model] = value
            else:
                current.pop(model, None)
            await queries.put_setting(session, SETTING, current)
        self._overrides = None

    async def context_length(self, route: ModelRoute) -> int | None:
        """The context (tokens) of the model ``route`` serves; an admin's correction
        wins. None when unknown."""
        overrides = await self._load_overrides()
        return merged(self._known(route.id, route), overrides.get(route.id)).context_length

    async def _load_overrides(self) -> dict[str, dict[str, Any]]:
        """The admins' corrections, trusted for as long as the prices are (another
        worker's change shows within ``billing.price_cache_seconds``)."""
        now = time.monotonic()
        if self._overrides is not None and self._overrides[0] > now:
            return self._overrides[1]
        async with self._db.session() as session:
            value = await queries.get_setting(session, SETTING)
        overrides = value if isinstance(value, dict) else {}
        self._overrides = (now + self._settings.billing.price_cache_seconds, overrides)
        return overrides

    async def _entry(
        self,
        catalog: Catalog,
        principal: Principal,
        card: ModelCard,
        overrides: dict[str, dict[str, Any]],
        aliases: tuple[str, ...],
    ) -> CatalogueEntry:
        target = card.alias_of or card.id
        routes = [
            r for r in catalog.routes[target] if r.groups is None or principal.group in r.groups
        ]
        info = merged(self._known(target, routes[0]), overrides.get(target))
        sheet = await self._prices.get(target)
        if sheet is None and self._settings.billing.unpriced == "free":
            sheet = PriceSheet()  # served free
        return CatalogueEntry(
            id=card.id,
            kind=card.kind,
            alias_of=card.alias_of,
            aliases=aliases,
            owned_by=card.owned_by,
            created=card.created,
            context_length=info.context_length,
            capabilities=info.capabilities,
            price=_group_price(sheet, principal.multiplier_ppm) if sheet else None,
            state=self._state(routes),
        )

    def _known(self, model: str, route: ModelRoute) -> ModelInfo:
        info = known_info(model, route.kind, route.vision)
        if route.channel == EMBEDDED and route.kind == "chat":
            return ModelInfo(self._embedded_context(model), info.capabilities)
        return info

    def _embedded_context(self, model: str) -> int:
        """An embedded chat model's tokens per request: its own ``context``, else the
        model server's ``context_size``."""
        settings = self._settings.model_server
        for extra in settings.models:
            if extra.id == model and extra.context is not None:
                return extra.context
        return settings.context_size

    def _state(self, routes: list[ModelRoute]) -> str:
        circuits = [self._health.state(r.channel) for r in routes]
        if all(c == "open" for c in circuits):
            return "down"
        return "up" if all(c == "closed" for c in circuits) else "degraded"


def _group_price(sheet: PriceSheet, multiplier_ppm: int) -> GroupPrice:
    def scaled(value: int) -> int:
        return -(-value * multiplier_ppm // PPM)

    return GroupPrice(
        scaled(sheet.input_per_m),
        scaled(sheet.cached_input_per_m),
        scaled(sheet.output_per_m),
        scaled(sheet.per_call),
        scaled(sheet.per_image),
    )


def per_token_pricing(price: GroupPrice | None) -> dict[str, str] | None:
    """OpenRouter's shape: currency units per token / request / image, as strings."""
    if price is None:
        return None

    def per_token(per_m: int) -> str:
        return _plain(Decimal(per_m) / MILLION / MILLION)

    return {
        "prompt": per_token(price.input_per_m),
        "completion": per_token(price.output_per_m),
        "input_cache_read": per_token(price.cached_input_per_m),
        "request": _plain(Decimal(price.per_call) / MILLION),
        "image": _plain(Decimal(price.per_image) / MILLION),
    }


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"

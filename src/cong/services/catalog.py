"""The models a gateway serves: public ids, aliases, and the upstream behind each."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from cong.protocol.errors import APIError, model_not_found, permission_denied
from cong.providers.base import Provider, Timeouts, UpstreamConfig
from cong.providers.registry import build_provider
from cong.services.accounts import Principal
from cong.settings import Settings

Kind = Literal["chat", "embedding"]
EMBEDDED_OWNER = "cong"


@dataclass(frozen=True, slots=True)
class ModelRoute:
    id: str
    provider: Provider
    upstream_model: str
    kind: Kind
    vision: bool
    owned_by: str
    upstream: str


@dataclass(frozen=True, slots=True)
class ModelCard:
    id: str
    owned_by: str
    created: int
    kind: Kind
    alias_of: str | None = None


class Catalog:
    def __init__(self, routes: list[ModelRoute], aliases: dict[str, str]) -> None:
        self.routes = {route.id: route for route in routes}
        self.aliases = {
            a: t for a, t in aliases.items() if t in self.routes and a not in self.routes
        }
        self.providers = {route.upstream: route.provider for route in routes}
        self.created = int(time.time())

    def resolve(self, model: str) -> ModelRoute:
        route = self.routes.get(model) or self.routes.get(self.aliases.get(model, ""))
        if route is None:
            raise model_not_found(model)
        return route

    def allowed(self, principal: Principal, model: str, route: ModelRoute) -> bool:
        return principal.may_use(model) or principal.may_use(route.id)

    def authorize(self, principal: Principal, model: str, kind: Kind) -> ModelRoute:
        route = self.resolve(model)
        if not self.allowed(principal, model, route):
            raise permission_denied(f"This API key is not allowed to use the model `{model}`.")
        if route.kind != kind:
            raise _wrong_kind(model, route.kind)
        return route

    def cards(self, principal: Principal) -> list[ModelCard]:
        cards = [
            ModelCard(r.id, r.owned_by, self.created, r.kind)
            for r in self.routes.values()
            if self.allowed(principal, r.id, r)
        ]
        for alias, target in self.aliases.items():
            route = self.routes[target]
            if self.allowed(principal, alias, route):
                cards.append(ModelCard(alias, route.owned_by, self.created, route.kind, target))
        return cards

    def card(self, principal: Principal, model: str) -> ModelCard:
        route = self.resolve(model)
        if not self.allowed(principal, model, route):
            raise model_not_found(model)
        alias_of = route.id if model != route.id else None
        return ModelCard(model, route.owned_by, self.created, route.kind, alias_of)

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.close()


def _wrong_kind(model: str, kind: Kind) -> APIError:
    if kind == "embedding":
        message = (
            f"`{model}` is an embedding model and is not supported by this endpoint. "
            "Use /v1/embeddings."
        )
    else:
        message = f"`{model}` is a chat model and is not supported by /v1/embeddings."
    return APIError(
        404, message, type="invalid_request_error", param="model", code="model_not_supported"
    )


def build_catalog(settings: Settings) -> Catalog:
    t = settings.timeouts
    timeouts = Timeouts(connect=t.connect, first_byte=t.first_byte, idle=t.idle, total=t.total)
    routes: list[ModelRoute] = []
    ms = settings.model_server
    if ms.enabled:
        provider = build_provider(
            "openai",
            UpstreamConfig(
                name="embedded",
                base_url=f"http://{ms.host}:{ms.port}/v1",
                timeouts=timeouts,
                label="embedded model server",
            ),
        )
        routes.append(
            ModelRoute(
                ms.chat_model, provider, ms.chat_model, "chat", False, EMBEDDED_OWNER, "embedded"
            )
        )
        routes.append(
            ModelRoute(
                ms.embedding_model,
                provider,
                ms.embedding_model,
                "embedding",
                False,
                EMBEDDED_OWNER,
                "embedded",
            )
        )
    for upstream in settings.upstreams:
        key = upstream.api_key.get_secret_value() if upstream.api_key else None
        provider = build_provider(
            "openai",
            UpstreamConfig(
                name=upstream.name,
                base_url=upstream.base_url,
                api_key=key,
                timeouts=timeouts,
                label=f"'{upstream.name}'",
            ),
        )
        owner = upstream.owned_by or upstream.name
        for kind, models in (("chat", upstream.models), ("embedding", upstream.embedding_models)):
            for model in models:
                routes.append(
                    ModelRoute(
                        model,
                        provider,
                        upstream.model_map.get(model, model),
                        kind,  # type: ignore[arg-type]
                        model not in upstream.text_only_models,
                        owner,
                        upstream.name,
                    )
                )
    return Catalog(routes, settings.aliases)

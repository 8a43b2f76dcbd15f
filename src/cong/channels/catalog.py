"""The models a gateway serves: public ids, aliases, and the channels behind each."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Literal

from cong.accounts.principal import Principal
from cong.channels.service import ChannelConfig, default_timeouts
from cong.protocol.cong_headers import MAX_TOKENS_CLAMPED
from cong.protocol.errors import APIError, model_not_found
from cong.providers.base import Provider, UpstreamConfig
from cong.providers.registry import build_provider
from cong.settings import Settings

Kind = Literal["chat", "embedding", "image"]
EMBEDDED = "embedded"


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """One way to serve a model: a channel (one of its keys) and the upstream's name."""

    id: str
    provider: Provider
    upstream_model: str
    kind: Kind
    vision: bool
    owned_by: str
    channel: str
    priority: int = 0
    weight: float = 1.0
    groups: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ModelCard:
    id: str
    owned_by: str
    created: int
    kind: Kind
    alias_of: str | None = None


class Catalog:
    def __init__(self, routes: list[ModelRoute], aliases: dict[str, str]) -> None:
        self.routes: dict[str, list[ModelRoute]] = {}
        for route in routes:
            self.routes.setdefault(route.id, []).append(route)
        self.aliases = {
            a: t for a, t in aliases.items() if t in self.routes and a not in self.routes
        }
        self.providers: dict[str, Provider] = {}
        for route in routes:
            self.providers.setdefault(route.channel, route.provider)
        self.created = int(time.time())

    def _routes_for(self, model: str) -> list[ModelRoute]:
        routes = self.routes.get(model) or self.routes.get(self.aliases.get(model, ""))
        if not routes:
            raise model_not_found(model)
        return routes

    @staticmethod
    def _allowed(principal: Principal, model: str, route: ModelRoute) -> bool:
        return principal.may_use(model) or principal.may_use(route.id)

    @staticmethod
    def _in_group(principal: Principal, route: ModelRoute) -> bool:
        return route.groups is None or principal.group in route.groups

    def authorize(self, principal: Principal, model: str, kind: Kind) -> list[ModelRoute]:
        """The routes that may serve ``model`` for this caller. A model the key or its
        group may not use is 404 ``model_not_found``, like one that does not exist (as
        OpenAI answers): no oracle for which models exist."""
        routes = self._routes_for(model)
        allowed = self._allowed(principal, model, routes[0]) and (
            principal.group_allows(model) or principal.group_allows(routes[0].id)
        )
        usable = [r for r in routes if self._in_group(principal, r)] if allowed else []
        if not usable:
            raise model_not_found(model)
        if usable[0].kind != kind:
            raise _wrong_kind(model, usable[0].kind, kind)
        return usable

    def cards(self, principal: Principal) -> list[ModelCard]:
        def visible(name: str, routes: list[ModelRoute]) -> bool:
            in_group = principal.group_allows(name) or principal.group_allows(routes[0].id)
            return (
                in_group
                and self._allowed(principal, name, routes[0])
                and any(self._in_group(principal, r) for r in routes)
            )

        cards = [
            ModelCard(model, routes[0].owned_by, self.created, routes[0].kind)
            for model, routes in self.routes.items()
            if visible(model, routes)
        ]
        for alias, target in self.aliases.items():
            routes = self.routes[target]
            if visible(alias, routes):
                cards.append(
                    ModelCard(alias, routes[0].owned_by, self.created, routes[0].kind, target)
                )
        return cards

    def card(self, principal: Principal, model: str) -> ModelCard:
        for card in self.cards(principal):
            if card.id == model:
                return card
        raise model_not_found(model)

    async def close(self) -> None:
        for provider in self.providers.values():
            await provider.close()


def _wrong_kind(model: str, actual: Kind, wanted: Kind) -> APIError:
    endpoint = {
        "chat": "/v1/chat/completions",
        "embedding": "/v1/embeddings",
        "image": "/v1/images/generations",
    }[actual]
    return APIError(
        404,
        f"`{model}` is a{'n' if actual == 'embedding' else ''} {actual} model and is not "
        f"supported by this endpoint. Use {endpoint}.",
        type="invalid_request_error",
        param="model",
        code="model_not_supported",
    )


def embedded_channel(settings: Settings) -> ChannelConfig:
    ms = settings.model_server
    chat_models = (ms.chat_model, *(m.id for m in ms.models))
    return ChannelConfig(
        name=EMBEDDED,
        type="openai",
        base_url=f"http://{ms.host}:{ms.port}/v1",
        keys=(ms.key.get_secret_value() if ms.key else None,),
        models=chat_models,
        embedding_models=(ms.embedding_model,),
        text_only_models=chat_models,
        timeouts=default_timeouts(settings),
        owned_by="cong",
        source="config",
    )


def routes_of(channel: ChannelConfig) -> list[ModelRoute]:
    """One provider per key; the channel's weight is shared among its keys."""
    routes: list[ModelRoute] = []
    # How client-facing errors name the upstream: never by the internal channel name.
    embedded = channel.name == EMBEDDED
    label = "embedded model server" if embedded else "service"
    for index, key in enumerate(channel.keys):
        suffix = f"#{index + 1}" if len(channel.keys) > 1 else ""
        provider = build_provider(
            channel.type,
            UpstreamConfig(
                name=channel.name + suffix,
                base_url=channel.base_url,
                api_key=key,
                api_version=channel.api_version,
                timeouts=channel.timeouts,
                label=label,
                native_responses=channel.native_responses,
                # Our own model server: its clamp notice reaches the client, and its
                # supervisor restarts it when it dies.
                forwarded_headers=(MAX_TOKENS_CLAMPED,) if embedded else (),
                supervised=embedded,
            ),
        )
        template = ModelRoute(
            id="",
            provider=provider,
            upstream_model="",
            kind="chat",
            vision=True,
            owned_by=channel.owned_by or channel.name,
            channel=channel.name + suffix,
            priority=channel.priority,
            weight=channel.weight / len(channel.keys),
            groups=channel.groups,
        )
        kinds: tuple[tuple[Kind, tuple[str, ...]], ...] = (
            ("chat", channel.models),
            ("embedding", channel.embedding_models),
            ("image", channel.image_models),
        )
        for kind, models in kinds:
            for model in models:
                routes.append(
                    replace(
                        template,
                        id=model,
                        upstream_model=channel.model_map.get(model, model),
                        kind=kind,
                        vision=model not in channel.text_only_models,
                    )
                )
    return routes


def build_catalog(settings: Settings, channels: list[ChannelConfig]) -> Catalog:
    routes: list[ModelRoute] = []
    aliases = dict(settings.aliases)
    if settings.model_server.enabled:
        routes += routes_of(embedded_channel(settings))
        aliases.update({a: m.id for m in settings.model_server.models for a in m.aliases})
    for channel in channels:
        routes += routes_of(channel)
    return Catalog(routes, aliases)

"""The request path for the OpenAI endpoints: authorize → route → call → shape the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.completions import CompletionRequest, EmbeddingRequest
from cong.protocol.errors import invalid_request
from cong.protocol.images import ImageRequest
from cong.protocol.messages import has_image
from cong.protocol.validation import validate
from cong.services.accounts import Principal
from cong.services.catalog import Catalog, ModelCard, ModelRoute
from cong.services.catalog_loader import CatalogLoader
from cong.services.routing import Router

Chunks = AsyncIterator[dict[str, Any]]

# Fields that would let a caller pick the upstream, its credentials or headers.
FORBIDDEN_FIELDS = (
    "api_base",
    "base_url",
    "api_key",
    "api_version",
    "extra_headers",
    "headers",
    "organization",
    "custom_llm_provider",
    "deployment_id",
)


def _reject_routing_overrides(data: dict[str, Any]) -> None:
    for name in FORBIDDEN_FIELDS:
        if name in data:
            raise invalid_request(
                f"The field '{name}' is not allowed: the gateway chooses upstreams and "
                "their credentials.",
                param=name,
                code="forbidden_field",
            )


def _upstream_body(data: dict[str, Any], route: ModelRoute, stream: bool) -> dict[str, Any]:
    body = dict(data)
    body["model"] = route.upstream_model
    if stream:
        body["stream_options"] = {**(data.get("stream_options") or {}), "include_usage": True}
    return body


class Gateway:
    def __init__(self, loader: CatalogLoader, router: Router) -> None:
        self.loader = loader
        self.router = router

    @property
    def catalog(self) -> Catalog:
        return self.loader.catalog

    async def chat(self, principal: Principal, data: dict[str, Any]) -> dict[str, Any] | Chunks:
        _reject_routing_overrides(data)
        request = validate(ChatCompletionRequest, data)
        routes = self.catalog.authorize(principal, request.model, "chat")
        if has_image(request.messages):
            routes = [r for r in routes if r.vision]
            if not routes:
                raise invalid_request(
                    f"The model `{request.model}` does not support image inputs; send text "
                    "only or choose a vision model.",
                    param="messages",
                    code="image_input_not_supported",
                )
        if request.stream:
            return await self._stream(
                routes,
                lambda r: r.provider.stream_chat(_upstream_body(data, r, True)),
                request.model,
                request.wants_usage_in_stream,
            )
        response = await self.router.call(
            routes, lambda r: r.provider.chat(_upstream_body(data, r, False))
        )
        response["model"] = request.model
        return response

    async def completion(
        self, principal: Principal, data: dict[str, Any]
    ) -> dict[str, Any] | Chunks:
        _reject_routing_overrides(data)
        request = validate(CompletionRequest, data)
        routes = self.catalog.authorize(principal, request.model, "chat")
        if request.stream:
            return await self._stream(
                routes,
                lambda r: r.provider.stream_completion(_upstream_body(data, r, True)),
                request.model,
                request.wants_usage_in_stream,
            )
        response = await self.router.call(
            routes, lambda r: r.provider.completion(_upstream_body(data, r, False))
        )
        response["model"] = request.model
        return response

    async def embed(self, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
        _reject_routing_overrides(data)
        request = validate(EmbeddingRequest, data)
        routes = self.catalog.authorize(principal, request.model, "embedding")
        response = await self.router.call(
            routes, lambda r: r.provider.embed(_upstream_body(data, r, False))
        )
        response["model"] = request.model
        return response

    async def images(self, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
        _reject_routing_overrides(data)
        request = validate(ImageRequest, data)
        routes = self.catalog.authorize(principal, request.model, "image")
        return await self.router.call(
            routes, lambda r: r.provider.images(_upstream_body(data, r, False))
        )

    async def _stream(
        self, routes: list[ModelRoute], open_stream: Any, model: str, wants_usage: bool
    ) -> Chunks:
        """Open the stream inside the router up to its first chunk, so that failures
        before the first byte are retried and fail over; none after it."""

        async def first_chunk(route: ModelRoute) -> tuple[dict[str, Any] | None, Chunks]:
            chunks: Chunks = open_stream(route)
            try:
                return await anext(chunks), chunks
            except StopAsyncIteration:
                return None, chunks
            except BaseException:
                await chunks.aclose()  # type: ignore[attr-defined]
                raise

        first, rest = await self.router.call(routes, first_chunk)
        return _relabel_stream(first, rest, model, wants_usage)

    def models(self, principal: Principal) -> list[ModelCard]:
        return self.catalog.cards(principal)

    def model(self, principal: Principal, model: str) -> ModelCard:
        return self.catalog.card(principal, model)


async def _relabel_stream(
    first: dict[str, Any] | None, chunks: Chunks, model: str, client_wants_usage: bool
) -> Chunks:
    """Show the client the model id it asked for; keep usage only if it asked for it."""
    try:
        if first is not None:
            for chunk in _relabel(first, model, client_wants_usage):
                yield chunk
            async for chunk in chunks:
                for out in _relabel(chunk, model, client_wants_usage):
                    yield out
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


def _relabel(chunk: dict[str, Any], model: str, client_wants_usage: bool) -> list[dict[str, Any]]:
    chunk["model"] = model
    if not client_wants_usage:
        if not chunk.get("choices") and chunk.get("usage"):
            return []
        chunk.pop("usage", None)
    return [chunk]

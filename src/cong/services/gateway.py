"""The request path for the OpenAI endpoints: authorize → route → call → shape the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.completions import CompletionRequest, EmbeddingRequest
from cong.protocol.errors import invalid_request
from cong.protocol.messages import has_image
from cong.protocol.validation import validate
from cong.services.accounts import Principal
from cong.services.catalog import Catalog, ModelCard

Chunks = AsyncIterator[dict[str, Any]]


class Gateway:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def chat(self, principal: Principal, data: dict[str, Any]) -> dict[str, Any] | Chunks:
        request = validate(ChatCompletionRequest, data)
        route = self.catalog.authorize(principal, request.model, "chat")
        if not route.vision and has_image(request.messages):
            raise invalid_request(
                f"The model `{request.model}` does not support image inputs; send text only "
                "or choose a vision model.",
                param="messages",
                code="image_input_not_supported",
            )
        body = dict(data)
        body["model"] = route.upstream_model
        if request.stream:
            body["stream_options"] = {**(data.get("stream_options") or {}), "include_usage": True}
            chunks = route.provider.stream_chat(body)
            return _relabel_stream(chunks, request.model, request.wants_usage_in_stream)
        response = await route.provider.chat(body)
        response["model"] = request.model
        return response

    async def completion(
        self, principal: Principal, data: dict[str, Any]
    ) -> dict[str, Any] | Chunks:
        request = validate(CompletionRequest, data)
        route = self.catalog.authorize(principal, request.model, "chat")
        body = dict(data)
        body["model"] = route.upstream_model
        if request.stream:
            body["stream_options"] = {**(data.get("stream_options") or {}), "include_usage": True}
            chunks = route.provider.stream_completion(body)
            return _relabel_stream(chunks, request.model, request.wants_usage_in_stream)
        response = await route.provider.completion(body)
        response["model"] = request.model
        return response

    async def embed(self, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
        request = validate(EmbeddingRequest, data)
        route = self.catalog.authorize(principal, request.model, "embedding")
        body = dict(data)
        body["model"] = route.upstream_model
        response = await route.provider.embed(body)
        response["model"] = request.model
        return response

    def models(self, principal: Principal) -> list[ModelCard]:
        return self.catalog.cards(principal)

    def model(self, principal: Principal, model: str) -> ModelCard:
        return self.catalog.card(principal, model)


async def _relabel_stream(chunks: Chunks, model: str, client_wants_usage: bool) -> Chunks:
    """Show the client the model id it asked for; keep usage only if it asked for it."""
    try:
        async for chunk in chunks:
            chunk["model"] = model
            if not client_wants_usage:
                if not chunk.get("choices") and chunk.get("usage"):
                    continue
                chunk.pop("usage", None)
            yield chunk
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]

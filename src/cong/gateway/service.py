"""The request path for the OpenAI endpoints:
authorize → validate → route → limit → reserve → call (with failover) → settle → log."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cong.accounts.principal import Principal
from cong.billing import estimates
from cong.billing.pricing import Usage
from cong.channels.catalog import Catalog, Kind, ModelCard, ModelRoute
from cong.channels.catalog_loader import CatalogLoader
from cong.channels.routing import Router
from cong.gateway.metered_stream import MeteredStreams, Relayed
from cong.gateway.metering import Meter, Metering, usage_of
from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.completions import CompletionRequest, EmbeddingRequest
from cong.protocol.errors import APIError, invalid_request
from cong.protocol.images import ImageRequest
from cong.protocol.messages import has_image
from cong.protocol.validation import validate
from cong.providers.base import StreamItem

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


@dataclass
class Result:
    """An answer (a JSON object, or chunks to stream) and headers to send with it."""

    payload: dict[str, Any] | AsyncIterator[Relayed]
    headers: dict[str, str] = field(default_factory=dict)


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


def _end_reason(response: dict[str, Any]) -> str:
    reasons = {c.get("finish_reason") for c in response.get("choices") or ()}
    return "length" if "length" in reasons else "completed"


class Gateway:
    def __init__(
        self,
        loader: CatalogLoader,
        router: Router,
        metering: Metering,
        streams: MeteredStreams,
        default_output_tokens: int,
    ) -> None:
        self.loader = loader
        self.router = router
        self.metering = metering
        self.streams = streams
        self.default_output_tokens = default_output_tokens

    @property
    def catalog(self) -> Catalog:
        return self.loader.catalog

    async def chat(self, principal: Principal, data: dict[str, Any], request_id: str) -> Result:
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
        return await self._generate(
            principal,
            data,
            request_id,
            routes,
            "chat",
            request.model,
            bool(request.stream),
            request.wants_usage_in_stream,
        )

    async def completion(
        self, principal: Principal, data: dict[str, Any], request_id: str
    ) -> Result:
        _reject_routing_overrides(data)
        request = validate(CompletionRequest, data)
        routes = self.catalog.authorize(principal, request.model, "chat")
        return await self._generate(
            principal,
            data,
            request_id,
            routes,
            "completions",
            request.model,
            bool(request.stream),
            request.wants_usage_in_stream,
        )

    async def _generate(
        self,
        principal: Principal,
        data: dict[str, Any],
        request_id: str,
        routes: list[ModelRoute],
        endpoint: str,
        model: str,
        stream: bool,
        wants_usage: bool,
    ) -> Result:
        prompt = estimates.prompt_tokens(data)
        worst = Usage(
            prompt_tokens=prompt,
            completion_tokens=estimates.output_budget(data, self.default_output_tokens),
        )
        meter = await self.metering.admit(
            principal,
            request_id,
            endpoint,
            model,
            routes[0].id,
            worst,
            stream=stream,
            capped=estimates.has_output_limit(data),
        )
        chat = endpoint == "chat"
        if stream:

            async def open_stream(
                route: ModelRoute,
            ) -> tuple[StreamItem | None, AsyncIterator[StreamItem]]:
                body = _upstream_body(data, route, True)
                chunks = (
                    route.provider.stream_chat(body)
                    if chat
                    else route.provider.stream_completion(body)
                )
                try:
                    first = await anext(chunks)
                except StopAsyncIteration:
                    first = None
                except BaseException:
                    await chunks.aclose()  # type: ignore[attr-defined]
                    raise
                meter.served_by(route)
                return first, chunks

            async def routed_stream() -> AsyncIterator[Relayed]:
                # Routing happens at the first read, so the HTTP layer can send keep-alive
                # comments while a slow upstream (or the model queue) has said nothing yet.
                first, rest = await self._call(meter, routes, open_stream)
                chunks = self.streams.run(meter, first, rest, model, wants_usage, prompt)
                try:
                    async for chunk in chunks:
                        yield chunk
                finally:
                    await chunks.aclose()  # type: ignore[attr-defined]

            return Result(routed_stream(), meter.headers)

        async def call(route: ModelRoute) -> dict[str, Any]:
            body = _upstream_body(data, route, False)
            response = await (
                route.provider.chat(body) if chat else route.provider.completion(body)
            )
            meter.served_by(route)
            return response

        response = await self._call(meter, routes, call)
        await self._settle(meter, response, prompt)
        response["model"] = model
        return Result(response, meter.headers)

    async def _call(
        self,
        meter: Meter,
        routes: list[ModelRoute],
        attempt: Callable[[ModelRoute], Awaitable[Any]],
    ) -> Any:
        """Route with failover; a failure before any output releases the whole hold."""
        try:
            return await self.router.call(routes, attempt)
        except APIError as error:
            reason = "timeout" if error.status == 504 else "upstream_error"
            await self.metering.finish(meter, None, status=error.status, end_reason=reason)
            raise
        except BaseException:
            await self.metering.finish(meter, None, status=499, end_reason="client_disconnected")
            raise

    async def _settle(
        self, meter: Meter, response: dict[str, Any], prompt: int, images: int = 0
    ) -> None:
        usage = usage_of(response, images)
        estimated = usage is None
        if usage is None:
            text = "".join(
                str((c.get("message") or {}).get("content") or c.get("text") or "")
                for c in response.get("choices") or ()
            )
            usage = Usage(prompt_tokens=prompt, completion_tokens=estimates.text_tokens(text))
        await self.metering.finish(
            meter, usage, status=200, end_reason=_end_reason(response), estimated=estimated
        )

    async def embed(self, principal: Principal, data: dict[str, Any], request_id: str) -> Result:
        _reject_routing_overrides(data)
        request = validate(EmbeddingRequest, data)
        prompt = estimates.embedding_tokens(data)
        return await self._single(
            principal,
            data,
            request_id,
            "embeddings",
            request.model,
            "embedding",
            Usage(prompt_tokens=prompt),
            prompt,
        )

    async def images(self, principal: Principal, data: dict[str, Any], request_id: str) -> Result:
        _reject_routing_overrides(data)
        request = validate(ImageRequest, data)
        return await self._single(
            principal,
            data,
            request_id,
            "images",
            request.model,
            "image",
            Usage(images=request.n or 1),
            0,
        )

    async def _single(
        self,
        principal: Principal,
        data: dict[str, Any],
        request_id: str,
        endpoint: str,
        model: str,
        kind: Kind,
        worst: Usage,
        prompt: int,
    ) -> Result:
        """A request answered by one JSON object (embeddings, images)."""
        routes = self.catalog.authorize(principal, model, kind)
        meter = await self.metering.admit(
            principal, request_id, endpoint, model, routes[0].id, worst, stream=False
        )

        async def call(route: ModelRoute) -> dict[str, Any]:
            body = _upstream_body(data, route, False)
            response = await (
                route.provider.embed(body) if kind == "embedding" else route.provider.images(body)
            )
            meter.served_by(route)
            return response

        response = await self._call(meter, routes, call)
        images = len(response.get("data") or ()) if kind == "image" else 0
        await self._settle(meter, response, prompt, images=images)
        if kind == "embedding":
            response["model"] = model
        return Result(response, meter.headers)

    def models(self, principal: Principal) -> list[ModelCard]:
        return self.catalog.cards(principal)

    def model(self, principal: Principal, model: str) -> ModelCard:
        return self.catalog.card(principal, model)

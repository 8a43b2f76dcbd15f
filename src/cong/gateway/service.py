"""The request path for the OpenAI endpoints:
authorize → route → limit → reserve → call (with failover) → settle → log.

Every endpoint comes here as one :class:`GatewayRequest` (validated at the edge); its
:class:`Operation` row says which models and provider call serve it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cong.accounts.principal import Principal
from cong.billing import estimates
from cong.billing.pricing import Usage
from cong.channels.catalog import Catalog, ModelCard, ModelRoute
from cong.channels.catalog_loader import CatalogLoader
from cong.channels.routing import Router
from cong.gateway import prompt_bounds
from cong.gateway.client_errors import end_reason_of, naming_asked_model
from cong.gateway.metered_stream import MeteredStreams, Opened
from cong.gateway.metering import Meter, Metering, usage_of
from cong.gateway.operations import Body, Operation
from cong.gateway.request import OPENAI, Edge, GatewayRequest
from cong.protocol.errors import APIError
from cong.protocol.stream import Stream
from cong.providers.base import Capability, forwarded_headers


@dataclass
class Result:
    """An answer (a JSON object, or a stream) and headers to send with it."""

    payload: dict[str, Any] | Stream
    headers: dict[str, str] = field(default_factory=dict)


def _end_reason(response: dict[str, Any]) -> str:
    reasons = {c.get("finish_reason") for c in response.get("choices") or ()}
    return "length" if "length" in reasons else "completed"


def _capable(routes: list[ModelRoute], capability: Capability) -> list[ModelRoute]:
    """The routes whose provider offers ``capability`` (400 when none does)."""
    capable = [r for r in routes if capability in r.provider.capabilities]
    if not capable:
        raise routes[0].provider.unsupported(capability)
    return capable


# The context length (tokens) of the model a route serves; None when unknown.
ContextLength = Callable[[ModelRoute], Awaitable[int | None]]


async def _unknown(route: ModelRoute) -> int | None:
    return None


class Gateway:
    def __init__(
        self,
        loader: CatalogLoader,
        router: Router,
        metering: Metering,
        streams: MeteredStreams,
        default_output_tokens: int,
        context_length: ContextLength = _unknown,
    ) -> None:
        self.loader = loader
        self.router = router
        self.metering = metering
        self.streams = streams
        self.default_output_tokens = default_output_tokens
        self.context_length = context_length

    @property
    def catalog(self) -> Catalog:
        return self.loader.catalog

    async def serve(self, request: GatewayRequest) -> Result:
        operation = request.operation
        routes = self.catalog.authorize(request.principal, request.model, operation.kind)
        routes = _capable(operation.usable(request.params, routes), operation.capability)
        request.routes = routes
        if not request.bounded:
            await self.refuse_unfittable(operation, request.body, request.principal)
        prompt, worst, capped = operation.estimate(request.body, self.default_output_tokens)
        meter = await self.metering.admit(
            request.principal,
            request.request_id,
            operation.name,
            request.model,
            routes[0].id,
            worst,
            stream=request.stream,
            capped=capped,
        )
        if request.stream:
            # Routing happens at the first read, so the HTTP layer can send keep-alive
            # comments while a slow upstream (or the model queue) has said nothing yet.
            opening = self._opener(meter, request)
            return Result(self.streams.run(meter, request, opening, prompt), meter.headers)

        async def call(route: ModelRoute) -> dict[str, Any]:
            response = await operation.call(route.provider, request.upstream_body(route))
            meter.served_by(route)
            meter.headers.update(forwarded_headers(response))
            return response

        response = await self._call(meter, request, call)
        images = len(response.get("data") or ()) if operation.counts_images else 0
        await self._settle(meter, response, prompt, images)
        if operation.names_model:
            response["model"] = request.model
        return Result(response, meter.headers)

    async def read(
        self,
        operation: Operation,
        body: Body,
        principal: Principal,
        request_id: str,
        *,
        edge: Edge = OPENAI,
        wire: Body | None = None,
        bounded: bool = False,
    ) -> GatewayRequest:
        """The request value for ``body`` (400 on a bad one). A prompt that cannot fit
        the model's known context is refused first, before the body is validated (a
        body of 50,000 messages takes far longer to validate than to bound);
        ``bounded``: the caller has already bounded this very body."""
        if not bounded:
            await self.refuse_unfittable(operation, body, principal)
        request = GatewayRequest.read(operation, body, principal, request_id, edge=edge, wire=wire)
        request.bounded = True
        return request

    async def refuse_unfittable(
        self, operation: Operation, body: Body, principal: Principal
    ) -> None:
        """400 ``context_length_exceeded`` for a prompt that cannot fit the model's known
        context: before any hold, and before the model server or upstream sees it. Only
        for a model the caller may use (no oracle for others' context lengths); anything
        else wrong with the body is left to its validation and routing."""
        model = body.get("model")
        if operation.prompts is None or not isinstance(model, str):
            return
        try:
            routes = self.catalog.authorize(principal, model, operation.kind)
        except APIError:
            return
        context = await self.context_length(routes[0])
        if context is not None:
            prompts = operation.prompts(body)
            await prompt_bounds.refuse_unfittable(prompts, context, operation.prompt_param)

    def _opener(self, meter: Meter, request: GatewayRequest) -> Callable[[], Awaitable[Opened]]:
        """Opens the stream on the first route that answers, up to its first item."""
        stream = request.operation.stream
        assert stream is not None

        async def attempt(route: ModelRoute) -> Opened:
            upstream = stream(route.provider, request.upstream_body(route))
            try:
                first = await anext(upstream, None)
            except BaseException:
                await upstream.aclose()
                raise
            meter.served_by(route)
            if first is not None and first.headers:
                # Sent with the status line when it goes out with the first event.
                meter.headers.update(first.headers)
            return first, upstream

        return lambda: self._call(meter, request, attempt, verdict_later=True)

    async def _call(
        self,
        meter: Meter,
        request: GatewayRequest,
        attempt: Callable[[ModelRoute], Awaitable[Any]],
        *,
        verdict_later: bool = False,
    ) -> Any:
        """Route with failover; a failure before any output releases the whole hold."""
        try:
            return await self.router.call(request.routes, attempt, verdict_later=verdict_later)
        except APIError as error:
            reason = end_reason_of(error)
            await self.metering.finish(meter, None, status=error.status, end_reason=reason)
            raise naming_asked_model(error, request.model, request.routes) from None
        except BaseException:
            await self.metering.finish(meter, None, status=499, end_reason="client_disconnected")
            raise

    async def _settle(
        self, meter: Meter, response: dict[str, Any], prompt: int, images: int
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

    def models(self, principal: Principal) -> list[ModelCard]:
        return self.catalog.cards(principal)

    def model(self, principal: Principal, model: str) -> ModelCard:
        return self.catalog.card(principal, model)

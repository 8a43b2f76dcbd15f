"""``/v1/messages`` and ``/v1/messages/count_tokens``: Anthropic's Messages API for every
model. Authenticated like ``/v1`` (``x-api-key`` or Bearer, the same keys). A model whose
every route is an Anthropic channel gets the request passed through natively (the
``NATIVE_MESSAGES`` operation); any other is translated to chat (``MESSAGES``, chat's row)
and back. Both run on the gateway's one path; every error is in Anthropic's envelope with
the gateway's status."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp

from cong.accounts.principal import Principal
from cong.billing import estimates
from cong.gateway.operations import MESSAGES, NATIVE_MESSAGES
from cong.gateway.request import Edge, GatewayRequest
from cong.gateway.service import Gateway
from cong.http.api_call import ApiCall
from cong.http.inbound_streams import AnthropicAPIError, anthropic_errors
from cong.http.openai_routes import Endpoint
from cong.http.responses import EventStream, JSONBody, error_response
from cong.protocol.errors import APIError
from cong.protocol.sse import StreamRenderer
from cong.protocol.validation import parse_json_object
from cong.providers.anthropic_inbound import (
    anthropic_message_from_chat,
    chat_request_from_anthropic,
)
from cong.providers.anthropic_inbound_stream import MessageRenderer, NativeMessageRenderer
from cong.providers.anthropic_native import NATIVE
from cong.providers.base import Capability


def _translated_renderer(request: GatewayRequest) -> StreamRenderer:
    return MessageRenderer(request.model, estimates.prompt_tokens(request.body))


def _native_answer(answer: dict[str, Any], request: GatewayRequest) -> dict[str, Any]:
    return {**answer[NATIVE], "model": request.model}


ANTHROPIC = Edge(
    "anthropic",
    read=chat_request_from_anthropic,
    answer=lambda answer, request: anthropic_message_from_chat(answer, request.model),
    renderer=_translated_renderer,
)
ANTHROPIC_NATIVE = Edge(
    "anthropic-native",
    answer=_native_answer,
    renderer=lambda request: NativeMessageRenderer(request.model),
)


def _native(gateway: Gateway, principal: Principal, wire: dict[str, Any]) -> bool:
    """True when every route of the model speaks Messages natively (a mixed set is
    translated, so that failover may use any of them)."""
    model = wire.get("model")
    if not isinstance(model, str) or not model:
        return False
    routes = gateway.catalog.authorize(principal, model, "chat")
    return all(Capability.MESSAGES in route.provider.capabilities for route in routes)


async def read_request(
    gateway: Gateway, principal: Principal, wire: dict[str, Any], request_id: str
) -> GatewayRequest:
    if _native(gateway, principal, wire):
        return await gateway.read(
            NATIVE_MESSAGES, wire, principal, request_id, edge=ANTHROPIC_NATIVE, wire=wire
        )
    body = ANTHROPIC.read(wire)
    return await gateway.read(MESSAGES, body, principal, request_id, edge=ANTHROPIC, wire=wire)


async def create_message(call: ApiCall) -> ASGIApp:
    gateway = call.services.gateway
    try:
        principal = await call.authenticate()
        wire = parse_json_object(await call.body(), api="Anthropic")
        request = await read_request(gateway, principal, wire, call.request_id)
        result = await gateway.serve(request)
    except APIError as error:
        return error_response(AnthropicAPIError.of(error))
    if isinstance(result.payload, dict):
        return JSONBody(request.edge.answer(result.payload, request), result.headers)
    keepalive = call.services.settings.keepalive_seconds
    return EventStream(
        anthropic_errors(result.payload),
        request.edge.renderer(request),
        keepalive=keepalive,
        commit_after=keepalive,
        headers=result.headers,
    )


async def count_tokens(call: ApiCall) -> ASGIApp:
    """The prompt's size as the gateway estimates it (and holds money for):
    ``{"input_tokens": n}``."""
    try:
        principal = await call.authenticate()
        wire: dict[str, Any] = parse_json_object(await call.body(), api="Anthropic")
        body = chat_request_from_anthropic({"max_tokens": 1, **wire}, server_tools=True)
        call.services.gateway.catalog.authorize(principal, body["model"], "chat")
    except APIError as error:
        return error_response(AnthropicAPIError.of(error))
    return JSONBody({"input_tokens": estimates.prompt_tokens(body)})


routes: dict[str, dict[str, Endpoint]] = {
    "/v1/messages": {"POST": create_message},
    "/v1/messages/count_tokens": {"POST": count_tokens},
}

"""``/v1``: the OpenAI-compatible endpoints. Thin: parse, call the gateway, render.

They are served by ``http.front`` straight from ASGI (the hot path), each taking an
:class:`ApiCall` and returning an ASGI app that sends the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp

from cong.channels.catalog import ModelCard
from cong.http.api_call import ApiCall
from cong.http.responses import EventStream, JSONBody, error_response
from cong.protocol.errors import APIError
from cong.protocol.validation import parse_json_object

Handler = Callable[[ApiCall], Awaitable[Any]]
Endpoint = Callable[[ApiCall], Awaitable[ASGIApp]]


def _render(call: ApiCall, result: Any) -> ASGIApp:
    if isinstance(result, dict):
        return JSONBody(result)
    if isinstance(result.payload, dict):
        return JSONBody(result.payload, result.headers)
    keepalive = call.services.settings.keepalive_seconds
    return EventStream(
        result.payload, keepalive=keepalive, commit_after=keepalive, headers=result.headers
    )


def openai_endpoint(handler: Handler) -> Endpoint:
    async def endpoint(call: ApiCall) -> ASGIApp:
        try:
            return _render(call, await handler(call))
        except APIError as error:
            return error_response(error)

    endpoint.__name__ = handler.__name__
    return endpoint


def gateway_endpoint(operation: str) -> Endpoint:
    """An endpoint that authenticates, parses the JSON body and hands it to one gateway
    operation (``chat``, ``completion``, ``embed`` or ``images``)."""

    async def handler(call: ApiCall) -> Any:
        principal = await call.authenticate()
        data = parse_json_object(await call.body())
        gateway = getattr(call.services.gateway, operation)
        return await gateway(principal, data, call.request_id)

    handler.__name__ = operation
    return openai_endpoint(handler)


def _card(card: ModelCard) -> dict[str, Any]:
    return {"id": card.id, "object": "model", "created": card.created, "owned_by": card.owned_by}


@openai_endpoint
async def list_models(call: ApiCall) -> Any:
    """Entries carry OpenRouter-style extras: ``context_length``, ``pricing``,
    ``capabilities`` (the official Model schema allows more properties)."""
    principal = await call.authenticate()
    cards = call.services.gateway.models(principal)
    extras = await call.services.catalogue.v1_fields(principal, cards)
    data = [_card(card) | extra for card, extra in zip(cards, extras, strict=True)]
    return {"object": "list", "data": data}


@openai_endpoint
async def retrieve_model(call: ApiCall) -> Any:
    principal = await call.authenticate()
    card = call.services.gateway.model(principal, call.path_params["model"])
    (extra,) = await call.services.catalogue.v1_fields(principal, [card])
    return _card(card) | extra


# path -> method -> endpoint
exact_routes: dict[str, dict[str, Endpoint]] = {
    "/v1/chat/completions": {"POST": gateway_endpoint("chat")},
    "/v1/completions": {"POST": gateway_endpoint("completion")},
    "/v1/embeddings": {"POST": gateway_endpoint("embed")},
    "/v1/images/generations": {"POST": gateway_endpoint("images")},
    "/v1/models": {"GET": list_models},
}
# path prefix -> method -> endpoint; the rest of the path is the ``model`` parameter
model_routes: dict[str, dict[str, Endpoint]] = {"/v1/models/": {"GET": retrieve_model}}

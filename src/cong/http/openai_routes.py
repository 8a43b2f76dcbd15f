"""``/v1``: the OpenAI-compatible endpoints. Thin: parse, call the gateway, render.

They are served by ``http.front`` straight from ASGI (the hot path), each taking an
:class:`ApiCall` and returning an ASGI app that sends the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp

from cong.channels.catalog import ModelCard
from cong.files.chat_parts import name_the_images
from cong.gateway.operations import CHAT, COMPLETIONS, EMBEDDINGS, IMAGES, Operation
from cong.gateway.request import OPENAI, Edge, GatewayRequest
from cong.gateway.service import Result
from cong.http.api_call import ApiCall
from cong.http.responses import EventStream, JSONBody, error_response
from cong.protocol.errors import APIError
from cong.protocol.validation import parse_json_object

Handler = Callable[[ApiCall], Awaitable[Any]]
Endpoint = Callable[[ApiCall], Awaitable[ASGIApp]]


def openai_endpoint(handler: Handler) -> Endpoint:
    """An endpoint answering the JSON object its handler returns."""

    async def endpoint(call: ApiCall) -> ASGIApp:
        try:
            return JSONBody(await handler(call))
        except APIError as error:
            return error_response(error)

    endpoint.__name__ = handler.__name__
    return endpoint


def _render(call: ApiCall, request: GatewayRequest, result: Result) -> ASGIApp:
    if isinstance(result.payload, dict):
        return JSONBody(request.edge.answer(result.payload, request), result.headers)
    keepalive = call.services.settings.keepalive_seconds
    return EventStream(
        result.payload,
        request.edge.renderer(request),
        keepalive=keepalive,
        commit_after=keepalive,
        headers=result.headers,
    )


def operation_endpoint(operation: Operation, edge: Edge = OPENAI) -> Endpoint:
    """An endpoint that authenticates, reads the JSON body (in ``edge``'s format) as one
    request for ``operation``, has the gateway serve it and renders the answer."""

    async def endpoint(call: ApiCall) -> ASGIApp:
        try:
            principal = await call.authenticate()
            wire = parse_json_object(await call.body())
            files = await call.services.file_chats.expand(principal, edge.read(wire))
            request = await call.services.gateway.read(
                operation, files.body, principal, call.request_id, edge=edge, wire=wire
            )
            try:
                result = await call.services.gateway.serve(request)
            except APIError as error:
                raise name_the_images(error, files) from None
            return _render(call, request, result)
        except APIError as error:
            return error_response(error)

    endpoint.__name__ = f"{edge.name}_{operation.name}"
    return endpoint


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
    "/v1/chat/completions": {"POST": operation_endpoint(CHAT)},
    "/v1/completions": {"POST": operation_endpoint(COMPLETIONS)},
    "/v1/embeddings": {"POST": operation_endpoint(EMBEDDINGS)},
    "/v1/images/generations": {"POST": operation_endpoint(IMAGES)},
    "/v1/models": {"GET": list_models},
}
# path prefix -> method -> endpoint; the rest of the path is the ``model`` parameter
model_routes: dict[str, dict[str, Endpoint]] = {"/v1/models/": {"GET": retrieve_model}}

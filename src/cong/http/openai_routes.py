"""``/v1``: the OpenAI-compatible endpoints. Thin: parse, call the gateway, render."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from cong.http.context import authenticate, read_body, request_id, services_of
from cong.http.responses import EventStream, JSONResponse, error_response
from cong.protocol.errors import APIError
from cong.protocol.validation import parse_json_object
from cong.services.catalog import ModelCard

Handler = Callable[[Request], Awaitable[Any]]


class _ASGIResponse(Response):
    """Adapts an ASGI callable (the event stream) to Starlette's Response slot."""

    def __init__(self, app: EventStream) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def _render(request: Request, result: Any) -> Response:
    if isinstance(result, dict):
        return JSONResponse(result)
    if isinstance(result.payload, dict):
        return JSONResponse(result.payload, headers=result.headers)
    keepalive = services_of(request).settings.keepalive_seconds
    return _ASGIResponse(
        EventStream(
            result.payload, keepalive=keepalive, commit_after=keepalive, headers=result.headers
        )
    )


def openai_endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return _render(request, await handler(request))
        except APIError as error:
            return error_response(error)

    endpoint.__name__ = handler.__name__
    return endpoint


def gateway_endpoint(operation: str) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that authenticates, parses the JSON body and hands it to one gateway
    operation (``chat``, ``completion``, ``embed`` or ``images``)."""

    async def handler(request: Request) -> Any:
        principal = await authenticate(request)
        data = parse_json_object(await read_body(request))
        call = getattr(services_of(request).gateway, operation)
        return await call(principal, data, request_id(request))

    handler.__name__ = operation
    return openai_endpoint(handler)


def _card(card: ModelCard) -> dict[str, Any]:
    return {"id": card.id, "object": "model", "created": card.created, "owned_by": card.owned_by}


@openai_endpoint
async def list_models(request: Request) -> Any:
    principal = await authenticate(request)
    cards = services_of(request).gateway.models(principal)
    return {"object": "list", "data": [_card(card) for card in cards]}


@openai_endpoint
async def retrieve_model(request: Request) -> Any:
    principal = await authenticate(request)
    card = services_of(request).gateway.model(principal, request.path_params["model"])
    return _card(card)


# Served by ``http.front`` directly (the hot path) ...
exact_routes = {
    ("POST", "/v1/chat/completions"): gateway_endpoint("chat"),
    ("POST", "/v1/completions"): gateway_endpoint("completion"),
    ("POST", "/v1/embeddings"): gateway_endpoint("embed"),
    ("POST", "/v1/images/generations"): gateway_endpoint("images"),
    ("GET", "/v1/models"): list_models,
}
model_routes = {("GET", "/v1/models/"): retrieve_model}

# ... and registered with the FastAPI app too, so that other methods get a 405 there.
routes = [
    *(Route(path, endpoint, methods=[method]) for (method, path), endpoint in exact_routes.items()),
    Route("/v1/models/{model:path}", retrieve_model, methods=["GET"]),
]

"""The Starlette application: routes, OpenAI error envelopes, start and stop."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from cong.modelserver.access import RequireKey
from cong.modelserver.chat_routes import chat_completions, chat_prompt_tokens
from cong.modelserver.completion_routes import completions
from cong.modelserver.embedding_routes import embeddings
from cong.modelserver.responses import error_response, json_response
from cong.modelserver.runtime import ModelRuntime
from cong.modelserver.tool_plan import plan_tools
from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.errors import (
    APIError,
    internal_error,
    invalid_request,
    method_not_allowed,
    model_not_found,
    route_not_found,
)
from cong.protocol.validation import parse_json_object, validate

log = logging.getLogger("cong.modelserver")


async def health(request: Request) -> Response:
    runtime: ModelRuntime = request.app.state.runtime
    return json_response(runtime.health(), status=503 if runtime.stalled else 200)


async def list_models(request: Request) -> Response:
    runtime: ModelRuntime = request.app.state.runtime
    data = [runtime.model_card(model_id) for model_id in runtime.model_ids]
    return json_response({"object": "list", "data": data})


async def get_model(request: Request) -> Response:
    runtime: ModelRuntime = request.app.state.runtime
    model_id = request.path_params["model"]
    if model_id not in runtime.model_ids:
        raise model_not_found(model_id)
    return json_response(runtime.model_card(model_id))


async def tokenize(request: Request) -> Response:
    """``{"model", "text"}`` or ``{"model", "messages", …}`` → ``{"count"}``: exactly the
    ``prompt_tokens`` usage would report for that legacy prompt / chat request (or that
    embedding input)."""
    runtime: ModelRuntime = request.app.state.runtime
    data = parse_json_object(await request.body())
    model_id = data.get("model")
    if not isinstance(model_id, str) or not model_id:
        raise invalid_request("Missing required parameter: 'model'.", param="model")
    text = data.get("text")
    if "messages" not in data and not isinstance(text, str):
        raise invalid_request("Send 'text' (a string) or 'messages'.", param="text")
    if runtime.embeddings is not None and model_id == runtime.embeddings.id:
        if not isinstance(text, str):
            raise invalid_request("An embedding model counts 'text' only.", param="text")
        return json_response({"count": await runtime.embeddings.count([text])})
    serving = runtime.chat_model(model_id)
    model = serving.model
    if isinstance(text, str) and "messages" not in data:
        tokens = await runtime.prepare(model.tokenize, text, add_bos=model.add_bos, special=True)
        return json_response({"count": len(tokens)})

    def count() -> int:
        body = validate(ChatCompletionRequest, data)
        return len(chat_prompt_tokens(body, model, serving.template, plan_tools(body)))

    return json_response({"count": await runtime.prepare(count)})


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(route_not_found(request.url.path))
    if exc.status_code == 405:
        return error_response(method_not_allowed())
    return error_response(APIError(exc.status_code, str(exc.detail), type="invalid_request_error"))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(internal_error())


def create_app(
    runtime: ModelRuntime, *, on_ready: Callable[[], None] | None = None, key: str | None = None
) -> ASGIApp:
    """The application; with ``key``, every request must carry it (see ``access.py``)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime.start()
        if on_ready is not None:
            on_ready()
        try:
            yield
        finally:
            runtime.stop()

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", get_model, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/tokenize", tokenize, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            APIError: _api_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.runtime = runtime
    return RequireKey(app, key) if key else app

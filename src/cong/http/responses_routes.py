"""``/v1/responses`` (create), ``/v1/responses/{id}`` (GET, DELETE) and
``/v1/responses/{id}/input_items`` (GET): OpenAI's Responses API on the gateway's one
chat path. Thin: authenticate, parse, call :class:`ResponsesAPI`, render (stream events
framed with their type as the SSE event name)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp

from cong.http.api_call import ApiCall
from cong.http.openai_routes import Endpoint, openai_endpoint
from cong.http.responses import EventStream, JSONBody, error_response
from cong.protocol.errors import APIError, invalid_request, route_not_found
from cong.protocol.validation import parse_json_object


async def create_response(call: ApiCall) -> ASGIApp:
    try:
        principal = await call.authenticate()
        data = parse_json_object(await call.body())
        result = await call.services.responses.create(principal, data, call.request_id)
    except APIError as error:
        return error_response(error)
    if isinstance(result.payload, dict):
        return JSONBody(result.payload, result.headers)
    assert result.renderer is not None
    keepalive = call.services.settings.keepalive_seconds
    return EventStream(
        result.payload,
        result.renderer,
        keepalive=keepalive,
        commit_after=keepalive,
        headers=result.headers,
    )


def _target(call: ApiCall) -> tuple[str, str | None]:
    """``{id}`` or ``{id}/input_items`` from the rest of the path."""
    rest = call.path_params["model"]
    response_id, _, tail = rest.partition("/")
    if not response_id or tail not in ("", "input_items"):
        raise route_not_found(call.scope["path"])
    return response_id, tail or None


def _query(call: ApiCall) -> dict[str, str]:
    raw = parse_qs(call.scope.get("query_string", b"").decode("latin-1"))
    return {name: values[-1] for name, values in raw.items()}


@openai_endpoint
async def read_response(call: ApiCall) -> Any:
    principal = await call.authenticate()
    response_id, tail = _target(call)
    api = call.services.responses
    if tail is None:
        return await api.retrieve(principal, response_id)
    query = _query(call)
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise invalid_request("limit must be an integer.", param="limit") from None
    return await api.stored.input_items(
        principal,
        response_id,
        limit=limit,
        order=query.get("order", "desc"),
        after=query.get("after"),
    )


@openai_endpoint
async def delete_response(call: ApiCall) -> Any:
    principal = await call.authenticate()
    response_id, tail = _target(call)
    if tail is not None:
        raise route_not_found(call.scope["path"])
    return await call.services.responses.delete(principal, response_id)


exact_routes: dict[str, dict[str, Endpoint]] = {"/v1/responses": {"POST": create_response}}
prefixed_routes: dict[str, dict[str, Endpoint]] = {
    "/v1/responses/": {"GET": read_response, "DELETE": delete_response}
}

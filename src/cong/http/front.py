"""The outermost ASGI app: serves the OpenAI endpoints (``/v1``) directly and hands every
other request to the FastAPI app (management API, start page, docs).

The ``/v1`` endpoints are the hot path: they skip FastAPI's and Starlette's middleware
stack, router and request objects, but keep the same behaviour: CORS for browsers
(Starlette's own middleware, used only when the request has an ``Origin``), OpenAI-envelope
errors (405 for another method), and a logged 500 for anything unexpected.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from cong.http.api_call import ApiCall, ClientGone
from cong.http.context import Services
from cong.http.openai_routes import Endpoint
from cong.http.responses import error_response
from cong.protocol.cong_headers import MAX_TOKENS_CLAMPED
from cong.protocol.errors import internal_error, method_not_allowed

log = logging.getLogger("cong")

EXPOSED_HEADERS = [
    "x-request-id",
    "retry-after",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
    "x-conversation-id",
    "x-memories-used",
    MAX_TOKENS_CLAMPED,
]

Routes = dict[str, dict[str, Endpoint]]
ENDPOINT = "cong.endpoint"  # scope key: the endpoint chosen by Front (None: 405)


def cors_options(origins: list[str]) -> dict[str, Any]:
    """The CORS policy of the whole server (``cors_origins`` in the settings)."""
    return {
        "allow_origins": origins,
        "allow_methods": ["*"],
        "allow_headers": ["*"],
        "expose_headers": EXPOSED_HEADERS,
        "max_age": 600,
    }


class Front:
    """A path in ``exact``, or under a prefix in ``prefixed`` (the rest of the path is
    the ``model`` parameter), is served here; everything else by ``app``."""

    def __init__(
        self, app: FastAPI, exact: Routes, prefixed: Routes, cors_origins: list[str]
    ) -> None:
        self.app = app
        self.exact = exact
        self.prefixed = prefixed
        self.with_cors = CORSMiddleware(self._serve, **cors_options(cors_origins))
        self._services: Services | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        methods = self._methods(scope) if scope["type"] == "http" else None
        if methods is None:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        # HEAD is GET without the body (the server drops it), as Starlette's routes do.
        scope[ENDPOINT] = methods.get("GET" if method == "HEAD" else method)
        for name, _ in scope["headers"]:
            if name == b"origin":
                await self.with_cors(scope, receive, send)
                return
        await self._serve(scope, receive, send)

    def _methods(self, scope: Scope) -> dict[str, Endpoint] | None:
        path: str = scope["path"]
        methods = self.exact.get(path)
        if methods is not None:
            return methods
        for prefix, candidates in self.prefixed.items():
            if path.startswith(prefix) and len(path) > len(prefix):
                scope["path_params"] = {"model": path[len(prefix) :]}
                return candidates
        return None

    @property
    def services(self) -> Services:
        if self._services is None:  # set by the app's lifespan, before the first request
            self._services = self.app.state.services
        return self._services

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint: Endpoint | None = scope[ENDPOINT]
        if endpoint is None:
            await error_response(method_not_allowed())(scope, receive, send)
            return
        call = ApiCall(scope, receive, self.services, scope.get("path_params"))
        try:
            response = await endpoint(call)
        except ClientGone:
            return
        except Exception:
            log.exception("unhandled error")
            response = error_response(internal_error())
        await response(scope, receive, send)

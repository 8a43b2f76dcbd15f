"""The outermost ASGI app: serves the OpenAI endpoints (``/v1``) directly and hands every
other request to the FastAPI app (management API, dashboard, docs).

The ``/v1`` endpoints are the hot path: they skip FastAPI's and Starlette's middleware
stack and router (about a third of the CPU a request cost through them) but keep the same
behaviour: CORS headers for browsers (Starlette's own middleware, only when the request
has an ``Origin``), OpenAI-envelope errors, and a logged 500 for anything unexpected.
A ``/v1`` path with another method (405), preflights and unknown paths go to FastAPI.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cong.http.responses import error_response
from cong.protocol.errors import internal_error

log = logging.getLogger("cong")

Endpoint = Callable[[Request], Awaitable[Response]]

EXPOSED_HEADERS = [
    "x-request-id",
    "retry-after",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
]


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
    """Dispatch: ``(method, path)`` in ``exact``, or a path under one of ``prefixed``
    (its rest becomes the ``model`` path parameter), is served here; the rest by ``app``."""

    def __init__(
        self,
        app: FastAPI,
        exact: dict[tuple[str, str], Endpoint],
        prefixed: dict[tuple[str, str], Endpoint],
        cors_origins: list[str],
    ) -> None:
        self.app = app
        self.exact = exact
        self.prefixed = prefixed
        self.with_cors = CORSMiddleware(self._serve, **cors_options(cors_origins))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._endpoint(scope) is not None:
            scope["app"] = self.app
            for name, _ in scope["headers"]:
                if name == b"origin":
                    await self.with_cors(scope, receive, send)
                    return
            await self._serve(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _endpoint(self, scope: Scope) -> Endpoint | None:
        method, path = scope["method"], scope["path"]
        endpoint = self.exact.get((method, path))
        if endpoint is not None:
            return endpoint
        for (verb, prefix), candidate in self.prefixed.items():
            if method == verb and path.startswith(prefix) and len(path) > len(prefix):
                scope["path_params"] = {"model": path[len(prefix) :]}
                return candidate
        return None

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self._endpoint(scope)
        assert endpoint is not None
        try:
            response = await endpoint(Request(scope, receive))
        except Exception:
            log.exception("unhandled error")
            response = error_response(internal_error())
        await response(scope, receive, send)

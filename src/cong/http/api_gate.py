"""``/api/*`` writes authenticate before their body is read: an anonymous or wrong key
(or session) gets 401 without the server buffering (or parsing) what it sent. Signing in
and registering are the only writes open to anonymous callers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cong.http.dependencies import PRINCIPAL, SAFE_METHODS, authenticate
from cong.http.responses import error_response
from cong.protocol.errors import APIError

ANONYMOUS_WRITES = frozenset({"/api/session", "/api/session/register"})


class ApiGate:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] not in SAFE_METHODS
            and scope["path"].startswith("/api/")
            and scope["path"] not in ANONYMOUS_WRITES
        ):
            try:
                principal = await authenticate(Request(scope))  # headers only, no body
            except APIError as error:
                await error_response(error)(scope, receive, send)
                return
            scope.setdefault("state", {})[PRINCIPAL] = principal
        await self.app(scope, receive, send)

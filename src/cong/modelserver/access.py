"""Only the gateway may call the model server: a shared secret, new at every start.

The supervisor (``channels/model_server.py``) generates it and hands it to the model
server in the ``CONG_MODEL_SERVER_KEY`` environment variable (never on the command line,
which other users can read); the gateway sends it as ``Authorization: Bearer <key>``.
Any request without it, ``/health`` included, gets 401.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from cong.modelserver.responses import error_response
from cong.protocol.errors import APIError


class RequireKey:
    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self._expected = f"Bearer {key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        error = APIError(
            401,
            "This model server answers only the Cổng gateway that started it.",
            type="invalid_request_error",
            code="invalid_api_key",
        )
        await error_response(error)(scope, receive, send)

"""Edge middleware (pure ASGI): request id, body size limit, access log."""

from __future__ import annotations

import itertools
import logging
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cong.protocol.errors import body_too_large

access_log = logging.getLogger("cong.access")


class BodyTooLarge(Exception):
    pass


class EdgeMiddleware:
    """Gives every response an ``x-request-id``, rejects oversized bodies with 413, and
    writes one access-log line per request (never headers, so never a key)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, access_log: bool) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.log = access_log
        # Request ids: a random per-process prefix and a counter (unique without a
        # system call per request; the app is built in each worker after the fork).
        self._id_prefix = "req_" + secrets.token_hex(8)
        self._ids = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = f"{self._id_prefix}{next(self._ids):016x}"
        scope.setdefault("state", {})["request_id"] = request_id
        header = request_id.encode()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", header)]
            await send(message)

        limit = self.max_body
        length = _content_length(scope)
        if length is not None and length > limit:
            error = body_too_large(limit)
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": error.json()})
        else:
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge
                return message

            await self.app(scope, limited_receive if length is None else receive, send_with_id)
        if self.log:
            access_log.info(
                "%s %s %s %d %.1fms",
                request_id,
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None

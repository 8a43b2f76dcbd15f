"""Edge middleware (pure ASGI): request id, body size limit, graceful drain, metrics and
the access log."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cong.channels.events import REQUEST_ID
from cong.http.metrics import Metrics
from cong.http.shutdown import Drain
from cong.protocol.errors import APIError, body_too_large
from cong.protocol.sse import DONE, encode_json

access_log = logging.getLogger("cong.access")

# Answered while draining (liveness, readiness, metrics); everything else gets 503.
DRAIN_EXEMPT = frozenset({"/api/health", "/api/ready", "/metrics"})
SSE = b"text/event-stream"


class BodyTooLarge(Exception):
    pass


def shutting_down() -> APIError:
    return APIError(
        503,
        "The server is shutting down; retry on another instance or in a moment.",
        type="server_error",
        code="shutting_down",
        headers={"retry-after": "5", "connection": "close"},
    )


class EdgeMiddleware:
    """Gives every response an ``x-request-id``, rejects oversized bodies with 413
    (declared or chunked), refuses new work while draining, measures requests, and
    writes one access-log line per request (never headers, so never a key)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        access_log: bool,
        drain: Drain | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.log = access_log
        self.drain = drain or Drain(0)
        self.metrics = metrics
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
        REQUEST_ID.set(request_id)
        header = request_id.encode()
        status = 0
        first_body: float | None = None
        stream = False
        too_large = False
        drain = self.drain
        task: asyncio.Task[object] | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, first_body, stream
            kind = message["type"]
            if too_large:
                return  # the 413 below answers instead
            if kind == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
                message["headers"] = [*headers, (b"x-request-id", header)]
                for name, value in headers:
                    if name == b"content-type" and value.startswith(SSE):
                        stream = True
                        if task is not None:
                            drain.streams.add(task)
            elif first_body is None and kind == "http.response.body":
                body = message.get("body")
                if body and not body.startswith(b":"):  # not a keep-alive comment
                    first_body = time.perf_counter()
            await send(message)

        async def answer(error: APIError) -> None:
            nonlocal status
            status = error.status
            headers = [(b"content-type", b"application/json"), (b"x-request-id", header)]
            headers += [(k.encode(), v.encode()) for k, v in error.headers.items()]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": error.json()})

        limit = self.max_body
        length = _content_length(scope)
        if drain.draining and scope["path"] not in DRAIN_EXEMPT:
            await answer(shutting_down())
        elif length is not None and length > limit:
            await answer(body_too_large(limit))
        else:
            received = 0

            async def limited_receive() -> Message:
                nonlocal received, too_large
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        too_large = True
                        raise BodyTooLarge
                return message

            task = asyncio.current_task()
            drain.enter()
            try:
                await self.app(scope, limited_receive if length is None else receive, send_with_id)
            except BodyTooLarge:
                pass
            except asyncio.CancelledError:
                if not drain.was_cut(task) or status == 0:
                    raise
                assert task is not None
                task.uncancel()
                await _end_cut_stream(send, stream)
            finally:
                drain.leave(task)
            if too_large and status == 0:
                too_large = False
                await answer(body_too_large(limit))
        ended = time.perf_counter()
        if self.metrics is not None:
            ttft = first_body - started if stream and first_body is not None else None
            self.metrics.observe_request(scope["path"], status, ended - started, ttft)
        if self.log:
            access_log.info(
                "%s %s %s %d %.1fms",
                request_id,
                scope["method"],
                scope["path"],
                status,
                (ended - started) * 1000,
            )


async def _end_cut_stream(send: Send, stream: bool) -> None:
    """A stream cut by the end of a graceful drain: an error event, ``[DONE]``, the end."""
    body = b""
    if stream:
        body = encode_json(shutting_down().body()) + DONE
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None

"""JSON, OpenAI-error and server-sent-event responses for the model server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cong.protocol.errors import APIError

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def error_response(error: APIError) -> Response:
    return Response(
        error.json(),
        status_code=error.status,
        headers=error.headers,
        media_type="application/json",
    )


class EventStreamResponse:
    """Sends an async generator of SSE bytes. A client disconnect calls ``on_disconnect``
    at once; it must make the generator finish promptly (it cancels the generation job,
    which also wakes the generator). The generator is always closed."""

    def __init__(
        self,
        body: AsyncGenerator[bytes, None],
        on_disconnect: Callable[[], None],
        headers: dict[str, str] | None = None,
    ) -> None:
        self.body = body
        self.on_disconnect = on_disconnect
        self.headers = SSE_HEADERS + [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        watcher = watch_disconnect(receive, self.on_disconnect)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            async for chunk in self.body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await stop_watching(watcher)
            await self.body.aclose()


def watch_disconnect(receive: Receive, on_disconnect: Callable[[], None]) -> asyncio.Task[None]:
    """For non-streaming answers: call ``on_disconnect`` if the client goes away while
    the answer is being generated. Cancel the returned task once the answer is ready."""

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        on_disconnect()

    return asyncio.create_task(watch())


async def stop_watching(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

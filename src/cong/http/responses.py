"""JSON, error and server-sent-event responses in OpenAI's shapes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cong.protocol.errors import APIError, internal_error
from cong.protocol.sse import DONE, KEEPALIVE, encode_data, encode_json

log = logging.getLogger("cong.http")

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(error: APIError) -> Response:
    headers = dict(error.headers)
    if error.status == 402:
        headers.setdefault("x-should-retry", "false")
    return Response(
        error.json(), status_code=error.status, headers=headers, media_type="application/json"
    )


class EventStream:
    """Streams chunks as SSE. The HTTP status is committed only when the first chunk
    arrives (so early failures keep their real status) or after ``commit_after`` seconds,
    after which keep-alive comments flow while the upstream is silent. A client
    disconnect cancels the upstream iteration (which stops generation upstream)."""

    def __init__(
        self,
        chunks: AsyncIterator[dict[str, Any]],
        *,
        keepalive: float,
        commit_after: float,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.chunks = chunks
        self.headers = SSE_HEADERS + [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        self.keepalive = keepalive
        self.commit_after = commit_after
        self.started = False
        self.disconnected = False
        self.last_write = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        watcher = loop.create_task(self._watch(receive, send, task))
        try:
            await self._run(scope, send)
        except asyncio.CancelledError:
            if not self.disconnected:
                raise
            task.uncancel()
        finally:
            watcher.cancel()
            await self.chunks.aclose()  # type: ignore[attr-defined]

    async def _run(self, scope: Scope, send: Send) -> None:
        first_task = asyncio.ensure_future(anext(self.chunks))
        try:
            done, _ = await asyncio.wait({first_task}, timeout=self.commit_after)
        except asyncio.CancelledError:
            first_task.cancel()
            raise
        if done:
            try:
                first = first_task.result()
            except StopAsyncIteration:
                first = None
            except APIError as error:
                await error_response(error)(scope, _no_receive, send)
                return
            await self._start(send)
            if first is not None:
                await self._write(send, _encode(first))
        else:
            await self._start(send)
            try:
                first = await first_task
                await self._write(send, _encode(first))
            except StopAsyncIteration:
                await self._finish(send)
                return
            except APIError as error:
                await self._fail(send, error)
                return
        try:
            async for chunk in self.chunks:
                await self._write(send, _encode(chunk))
        except APIError as error:
            await self._fail(send, error)
            return
        except Exception:
            log.exception("stream failed")
            await self._fail(send, internal_error())
            return
        await self._finish(send)

    async def _start(self, send: Send) -> None:
        self.started = True
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})

    async def _write(self, send: Send, data: bytes) -> None:
        self.last_write = asyncio.get_running_loop().time()
        await send({"type": "http.response.body", "body": data, "more_body": True})

    async def _fail(self, send: Send, error: APIError) -> None:
        await self._write(send, encode_data(error.json()))
        await self._finish(send)

    async def _finish(self, send: Send) -> None:
        await send({"type": "http.response.body", "body": DONE, "more_body": False})

    async def _watch(self, receive: Receive, send: Send, task: asyncio.Task[Any]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                message = await asyncio.wait_for(receive(), timeout=self.keepalive)
            except TimeoutError:
                if self.started and loop.time() - self.last_write >= self.keepalive * 0.9:
                    await self._write(send, KEEPALIVE)
                continue
            if message["type"] == "http.disconnect":
                self.disconnected = True
                task.cancel()
                return


def _encode(item: dict[str, Any] | list[dict[str, Any]]) -> bytes:
    """One event, or several that arrived together as one write."""
    if isinstance(item, dict):
        return encode_json(item)
    return b"".join(encode_json(chunk) for chunk in item)


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}

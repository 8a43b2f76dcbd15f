"""JSON, error and server-sent-event responses in OpenAI's shapes."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from cong.protocol.errors import APIError, internal_error
from cong.protocol.sse import KEEPALIVE, StreamRenderer
from cong.protocol.stream import Events, Stream

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


class JSONBody:
    """A JSON answer as two ASGI messages, headers prepared once (the ``/v1`` hot path)."""

    __slots__ = ("body", "headers")

    def __init__(self, content: Any, headers: dict[str, str] | None = None) -> None:
        self.body = orjson.dumps(content)
        self.headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(self.body)),
        ]
        if headers:
            self.headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


def error_response(error: APIError) -> Response:
    headers = dict(error.headers)
    if error.status == 402:
        headers.setdefault("x-should-retry", "false")
    return Response(
        error.json(), status_code=error.status, headers=headers, media_type="application/json"
    )


class EventStream:
    """Sends a stream as SSE, each item rendered by ``renderer``; the item marked
    ``end`` ends the response in the same write. The HTTP status is committed only when
    the first item arrives (so early failures keep their real status) or after
    ``commit_after`` seconds, after which keep-alive comments flow while the upstream is
    silent. A client disconnect cancels the upstream iteration (which stops generation
    upstream).

    Commit and keep-alives run from a timer, so a stream that flows costs no task
    besides the one that watches for the disconnect."""

    def __init__(
        self,
        chunks: Stream,
        renderer: StreamRenderer,
        *,
        keepalive: float,
        commit_after: float,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.chunks = chunks
        self.renderer = renderer
        # Read when the status line goes out: headers the upstream's answer added until
        # then are sent too.
        self.headers = headers if headers is not None else {}
        self.keepalive = keepalive
        self.commit_after = commit_after
        self.started = False
        self.disconnected = False
        self.last_write = 0.0
        self._send: Send | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._beat: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._send = send
        watcher = loop.create_task(self._watch(receive, task))
        self._timer = loop.call_later(self.commit_after, self._tick)
        try:
            await self._run(scope, send)
        except asyncio.CancelledError:
            if not self.disconnected:
                raise
            task.uncancel()
        finally:
            self._timer.cancel()
            watcher.cancel()
            if self._beat is not None:
                self._beat.cancel()
            await self.chunks.aclose()

    async def _run(self, scope: Scope, send: Send) -> None:
        try:
            first = await anext(self.chunks)
        except StopAsyncIteration:
            first = None
        except APIError as error:
            if not self.started:
                await error_response(error)(scope, _no_receive, send)
            else:
                await self._fail(send, error)
            return
        if not self.started:
            await self._start(send)
        if first is not None and await self._relay(send, first):
            return
        try:
            async for chunk in self.chunks:
                if await self._relay(send, chunk):
                    return
        except APIError as error:
            await self._fail(send, error)
            return
        except Exception:
            log.exception("stream failed")
            await self._fail(send, internal_error())
            return
        await self._finish(send)

    async def _relay(self, send: Send, item: Events) -> bool:
        """Write one item; True when it was the end of the response (the stream is
        settled and complete)."""
        body = self.renderer.events(item)
        if item.end:
            await self._after_beat()
            body += self.renderer.end()
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return True
        if body:
            await self._write(send, body)
        return False

    def _tick(self) -> None:
        """Timer: commit the status if nothing came yet, or send a keep-alive comment if
        the stream has been silent; then look again in ``keepalive`` seconds."""
        loop = asyncio.get_running_loop()
        due = not self.started or loop.time() - self.last_write >= self.keepalive * 0.9
        if due and (self._beat is None or self._beat.done()):
            self._beat = loop.create_task(self._heartbeat())
        self._timer = loop.call_later(self.keepalive, self._tick)

    async def _heartbeat(self) -> None:
        assert self._send is not None
        if not self.started:
            await self._start(self._send)
        else:
            await self._write(self._send, KEEPALIVE)

    async def _start(self, send: Send) -> None:
        self.started = True
        self.last_write = asyncio.get_running_loop().time()
        headers = SSE_HEADERS + [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})

    async def _after_beat(self) -> None:
        """Let a heartbeat in flight finish first (the status line goes before any body)."""
        beat = self._beat
        if beat is not None and not beat.done() and beat is not asyncio.current_task():
            await asyncio.shield(beat)

    async def _write(self, send: Send, data: bytes) -> None:
        await self._after_beat()
        self.last_write = asyncio.get_running_loop().time()
        await send({"type": "http.response.body", "body": data, "more_body": True})

    async def _fail(self, send: Send, error: APIError) -> None:
        await self._close(send, self.renderer.error(error))

    async def _finish(self, send: Send) -> None:
        """The stream stopped without its end item (not what the gateway sends)."""
        await self._close(send, self.renderer.end())

    async def _close(self, send: Send, body: bytes) -> None:
        await self._after_beat()
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _watch(self, receive: Receive, task: asyncio.Task[Any]) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                task.cancel()
                return


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}

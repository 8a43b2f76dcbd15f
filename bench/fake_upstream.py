"""A fast fake OpenAI upstream for benchmarks: raw asyncio + httptools, HTTP/1.1 keep-alive.

Answers ``POST /v1/chat/completions`` with a real ``chat.completion`` object (with usage), or,
for ``"stream": true``, an SSE stream in OpenAI's wire format over chunked transfer: a role
chunk, up to 20 content chunks, a finish chunk, a usage chunk when
``stream_options.include_usage`` is set, then ``data: [DONE]``. ``GET /v1/models`` lists the
served models. Everything else is a 404 in OpenAI's error shape.

Streams go out in one write (as fast as possible) unless ``--token-delay-ms`` is set; for
models whose id ends in ``-paced`` they trickle out one chunk every ``--paced-delay-ms``
(default 1 ms), like a real model's tokens, so a proxy has to relay them one by one.

Run: ``python bench/fake_upstream.py --port 0``; the first stdout line is the bound port.
It stops by itself after ``--max-seconds`` (default 3600) so a crashed harness cannot leak it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from typing import cast

import httptools
import orjson
import uvloop

from chat_payloads import ChatRequest, completion_body, stream_events

PACED_SUFFIX = "-paced"  # streams for these models trickle out chunk by chunk


class _Clock:
    """The HTTP ``Date`` value, recomputed at most once a second."""

    def __init__(self) -> None:
        self._second = 0
        self._value = b""

    def date(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True).encode()
        return self._value


CLOCK = _Clock()
_COUNTER = itertools.count()


def head(status: bytes, content_type: bytes, extra: bytes) -> bytes:
    request_id = b"req_%032x" % next(_COUNTER)
    return (
        b"HTTP/1.1 " + status + b"\r\ndate: " + CLOCK.date() + b"\r\ncontent-type: "
        + content_type + b"\r\nopenai-version: 2020-10-01\r\nopenai-processing-ms: 1"
        + b"\r\nx-request-id: " + request_id
        + b"\r\nx-ratelimit-limit-requests: 10000\r\nx-ratelimit-remaining-requests: 9999"
        + b"\r\n" + extra + b"\r\n"
    )  # fmt: skip


def json_response(status: bytes, body: bytes) -> bytes:
    return head(status, b"application/json", b"content-length: %d\r\n" % len(body)) + body


def error_response(status: bytes, message: str, code: str) -> bytes:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    return json_response(status, orjson.dumps({"error": error}))


class RequestProtocol(asyncio.Protocol):
    """One client connection of a fake server: requests parsed with httptools and each
    complete one handed to :meth:`answer`, in order."""

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(self.bad_request())
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", {}, []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        method = self.parser.get_method()
        keep_alive = self.parser.should_keep_alive()
        self.answer(transport, method, self.url, b"".join(self.body), keep_alive)

    def answer(
        self, transport: asyncio.Transport, method: bytes, url: bytes, body: bytes, keep: bool
    ) -> None:
        raise NotImplementedError

    def bad_request(self) -> bytes:
        raise NotImplementedError


class UpstreamProtocol(RequestProtocol):
    def __init__(self, server: FakeUpstream) -> None:
        super().__init__()
        self.server = server

    def bad_request(self) -> bytes:
        return error_response(b"400 Bad Request", "bad request", "bad")

    def answer(
        self, transport: asyncio.Transport, method: bytes, url: bytes, body: bytes, keep: bool
    ) -> None:
        auth = self.headers.get(b"authorization", b"")
        parts, delay = self.server.respond(method, url, auth, body)
        if delay > 0 and len(parts) > 1:
            self.server.pacer(delay).add(transport, parts, keep)
        else:
            transport.write(b"".join(parts))
            if not keep:
                transport.close()


class Pacer:
    """Writes the next piece of every paced response once per tick: one timer for all of
    them, so hundreds of trickling streams cost the fake little more than one."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.streams: list[tuple[asyncio.Transport, Iterator[bytes], bool]] = []
        self.handle: asyncio.TimerHandle | None = None

    def add(self, transport: asyncio.Transport, parts: list[bytes], keep_alive: bool) -> None:
        transport.write(parts[0])
        self.streams.append((transport, iter(parts[1:]), keep_alive))
        if self.handle is None:
            self.handle = asyncio.get_running_loop().call_later(self.delay, self.tick)

    def tick(self) -> None:
        alive = []
        for stream in self.streams:
            transport, parts, keep_alive = stream
            if transport.is_closing():
                continue
            part = next(parts, None)
            if part is not None:
                transport.write(part)
                alive.append(stream)
            elif not keep_alive:
                transport.close()
        self.streams = alive
        loop = asyncio.get_running_loop()
        self.handle = loop.call_later(self.delay, self.tick) if alive else None


class FakeUpstream:
    def __init__(
        self, api_key: str | None, models: list[str], token_delay: float, paced_delay: float
    ) -> None:
        self.expected_auth = f"Bearer {api_key}".encode() if api_key else None
        self.models = models
        self.token_delay = token_delay
        self.paced_delay = paced_delay
        self.pacers: dict[float, Pacer] = {}

    def pacer(self, delay: float) -> Pacer:
        pacer = self.pacers.get(delay)
        if pacer is None:
            pacer = self.pacers[delay] = Pacer(delay)
        return pacer

    def respond(
        self, method: bytes, url: bytes, auth: bytes, body: bytes
    ) -> tuple[list[bytes], float]:
        """The response's HTTP/1.1 pieces and the pause (s) to take between them."""
        path = url.split(b"?", 1)[0]
        if self.expected_auth is not None and auth != self.expected_auth:
            return [error_response(b"401 Unauthorized", "Incorrect API key", "invalid_api_key")], 0
        if path == b"/v1/chat/completions" and method == b"POST":
            return self.chat(body)
        if path == b"/v1/models" and method == b"GET":
            return [json_response(b"200 OK", self.model_list())], 0
        error = error_response(b"404 Not Found", f"Unknown path {path.decode()}", "not_found")
        return [error], 0

    def chat(self, body: bytes) -> tuple[list[bytes], float]:
        try:
            req = ChatRequest(body)
        except (ValueError, TypeError, AttributeError) as exc:
            return [error_response(b"400 Bad Request", f"invalid body: {exc}", "invalid_json")], 0
        if not req.stream:
            return [json_response(b"200 OK", completion_body(req))], 0
        events = stream_events(req)
        start = head(
            b"200 OK", b"text/event-stream; charset=utf-8", b"transfer-encoding: chunked\r\n"
        )
        delay = self.paced_delay if req.model.endswith(PACED_SUFFIX) else self.token_delay
        return [start + events[0], *events[1:]], delay

    def model_list(self) -> bytes:
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
            for m in self.models
        ]
        return orjson.dumps({"object": "list", "data": data})


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


async def serve(
    sock: socket.socket,
    protocol: Callable[[], asyncio.Protocol],
    max_seconds: float,
    label: str = "fake upstream",
) -> None:
    """Serve ``protocol`` on ``sock`` until SIGINT/SIGTERM or ``max_seconds``."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(protocol, sock=sock, backlog=4096)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        try:
            await asyncio.wait_for(stop.wait(), timeout=max_seconds)
        except TimeoutError:
            print(f"{label}: --max-seconds reached, stopping", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = ephemeral, printed on stdout")
    parser.add_argument("--api-key", default=None, help="require 'Bearer KEY' (default: any)")
    parser.add_argument("--models", default="fake-model,fake-model-paced", help="ids to list")
    parser.add_argument(
        "--token-delay-ms", type=float, default=0.0, help="pause between stream chunks"
    )
    parser.add_argument(
        "--paced-delay-ms",
        type=float,
        default=1.0,
        help=f"pause between stream chunks for models ending in {PACED_SUFFIX}",
    )
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop after this long")
    args = parser.parse_args(argv)
    sock = bind(args.host, args.port)
    print(sock.getsockname()[1], flush=True)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    upstream = FakeUpstream(
        args.api_key, models, args.token_delay_ms / 1000, args.paced_delay_ms / 1000
    )
    uvloop.run(serve(sock, lambda: UpstreamProtocol(upstream), args.max_seconds))


if __name__ == "__main__":
    main()

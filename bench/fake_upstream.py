"""A fast fake OpenAI upstream for benchmarks: raw asyncio + httptools, HTTP/1.1 keep-alive.

Answers ``POST /v1/chat/completions`` with a real ``chat.completion`` object (with usage), or,
for ``"stream": true``, an SSE stream in OpenAI's wire format over chunked transfer: a role
chunk, up to 20 content chunks, a finish chunk, a usage chunk when
``stream_options.include_usage`` is set, then ``data: [DONE]``. ``GET /v1/models`` lists the
served models. Everything else is a 404 in OpenAI's error shape.

Run: ``python bench/fake_upstream.py --port 0``; the first stdout line is the bound port.
It stops by itself after ``--max-seconds`` (default 3600) so a crashed harness cannot leak it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import secrets
import signal
import socket
import sys
import time
from email.utils import formatdate
from typing import Any, cast

import httptools
import orjson
import uvloop

CONTENT_PIECES = (
    "Hello", "!", " Here", " is", " a", " short", " answer", " from", " the", " fake",
    " upstream", ":", " it", " speaks", " the", " OpenAI", " wire", " format", " exactly", ".",
)  # fmt: skip
FINGERPRINT = "fp_b3f1c9d2e4"
ID_CHARS = 29  # len("chatcmpl-") + 29 matches real ids (38 characters)
ID_PLACEHOLDER = b"chatcmpl-" + b"X" * ID_CHARS
CREATED_PLACEHOLDER = b"1700000000"


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


def new_id() -> bytes:
    return b"chatcmpl-" + secrets.token_urlsafe(22)[:ID_CHARS].encode().ljust(ID_CHARS, b"0")


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class ChatRequest:
    """The few request fields the fake honours."""

    __slots__ = (
        "include_obfuscation",
        "include_usage",
        "model",
        "n_tokens",
        "prompt_tokens",
        "stream",
    )

    def __init__(self, body: bytes) -> None:
        data = orjson.loads(body) if body else {}
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        self.model = str(data.get("model") or "fake-model")
        self.stream = bool(data.get("stream"))
        limit = data.get("max_completion_tokens") or data.get("max_tokens")
        self.n_tokens = min(len(CONTENT_PIECES), int(limit)) if limit else len(CONTENT_PIECES)
        options = data.get("stream_options") or {}
        self.include_usage = bool(options.get("include_usage"))
        self.include_obfuscation = options.get("include_obfuscation", True) is not False
        self.prompt_tokens = max(1, len(body) // 4)

    @property
    def finish_reason(self) -> str:
        return "stop" if self.n_tokens == len(CONTENT_PIECES) else "length"


def completion_body(req: ChatRequest) -> bytes:
    return orjson.dumps(
        {
            "id": new_id().decode(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(CONTENT_PIECES[: req.n_tokens]),
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": req.finish_reason,
                }
            ],
            "usage": _usage(req.prompt_tokens, req.n_tokens),
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }
    )


_STREAM_TEMPLATES: dict[tuple[str, int, bool, bool], list[bytes]] = {}


def _chunk(req: ChatRequest, choices: list[dict[str, Any]], n: int) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": ID_PLACEHOLDER.decode(),
        "object": "chat.completion.chunk",
        "created": int(CREATED_PLACEHOLDER),
        "model": req.model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
    }
    if req.include_usage:
        chunk["usage"] = None
    if req.include_obfuscation:
        chunk["obfuscation"] = "abcdefghijklmnop"[: 4 + n % 12]
    return chunk


def _stream_template(req: ChatRequest) -> list[bytes]:
    """Every event up to the finish one, chunk-framed, with id/created placeholders."""
    key = (req.model, req.n_tokens, req.include_usage, req.include_obfuscation)
    cached = _STREAM_TEMPLATES.get(key)
    if cached is not None:
        return cached
    role = {"role": "assistant", "content": "", "refusal": None}
    deltas: list[dict[str, Any]] = [role, *({"content": p} for p in CONTENT_PIECES[: req.n_tokens])]
    events = [
        _chunk(req, [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}], i)
        for i, d in enumerate(deltas)
    ]
    finish = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": req.finish_reason}
    events.append(_chunk(req, [finish], len(deltas)))
    template = [frame(b"data: " + orjson.dumps(e) + b"\n\n") for e in events]
    _STREAM_TEMPLATES[key] = template
    return template


def frame(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def stream_events(req: ChatRequest) -> list[bytes]:
    """The whole SSE body as chunk-framed events (ending with the terminating 0-chunk).

    Ids and timestamps have fixed widths, so substituting them keeps the chunk sizes valid.
    """
    chat_id, created = new_id(), str(int(time.time())).encode()
    parts = [
        f.replace(ID_PLACEHOLDER, chat_id).replace(CREATED_PLACEHOLDER, created)
        for f in _stream_template(req)
    ]
    if req.include_usage:
        usage = _chunk(req, [], req.n_tokens + 1)
        usage["usage"] = _usage(req.prompt_tokens, req.n_tokens)
        payload = orjson.dumps(usage).replace(ID_PLACEHOLDER, chat_id)
        parts.append(frame(b"data: " + payload.replace(CREATED_PLACEHOLDER, created) + b"\n\n"))
    parts.append(frame(b"data: [DONE]\n\n"))
    parts.append(b"0\r\n\r\n")
    return parts


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


class UpstreamProtocol(asyncio.Protocol):
    """One client connection; requests are answered in order as they complete."""

    def __init__(self, server: FakeUpstream) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.auth = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(error_response(b"400 Bad Request", "bad request", "bad"))
                self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.auth, self.body = b"", b"", []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"authorization":
            self.auth = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        method = self.parser.get_method()
        parts = self.server.respond(method, self.url, self.auth, b"".join(self.body))
        delay = self.server.token_delay
        if delay > 0 and len(parts) > 1:
            self.server.spawn(self._trickle(transport, parts, delay))
        else:
            transport.write(b"".join(parts))
            if not self.parser.should_keep_alive():
                transport.close()

    async def _trickle(
        self, transport: asyncio.Transport, parts: list[bytes], delay: float
    ) -> None:
        transport.write(parts[0])
        for part in parts[1:]:
            await asyncio.sleep(delay)
            if transport.is_closing():
                return
            transport.write(part)


class FakeUpstream:
    def __init__(self, api_key: str | None, models: list[str], token_delay: float) -> None:
        self.expected_auth = f"Bearer {api_key}".encode() if api_key else None
        self.models = models
        self.token_delay = token_delay
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def respond(self, method: bytes, url: bytes, auth: bytes, body: bytes) -> list[bytes]:
        path = url.split(b"?", 1)[0]
        if self.expected_auth is not None and auth != self.expected_auth:
            return [error_response(b"401 Unauthorized", "Incorrect API key", "invalid_api_key")]
        if path == b"/v1/chat/completions" and method == b"POST":
            return self.chat(body)
        if path == b"/v1/models" and method == b"GET":
            return [json_response(b"200 OK", self.model_list())]
        return [error_response(b"404 Not Found", f"Unknown path {path.decode()}", "not_found")]

    def chat(self, body: bytes) -> list[bytes]:
        try:
            req = ChatRequest(body)
        except (ValueError, TypeError, AttributeError) as exc:
            return [error_response(b"400 Bad Request", f"invalid body: {exc}", "invalid_json")]
        if not req.stream:
            return [json_response(b"200 OK", completion_body(req))]
        events = stream_events(req)
        start = head(
            b"200 OK", b"text/event-stream; charset=utf-8", b"transfer-encoding: chunked\r\n"
        )
        return [start + events[0], *events[1:]]

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


async def serve(sock: socket.socket, upstream: FakeUpstream, max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: UpstreamProtocol(upstream), sock=sock, backlog=4096)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        try:
            await asyncio.wait_for(stop.wait(), timeout=max_seconds)
        except TimeoutError:
            print("fake upstream: --max-seconds reached, stopping", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = ephemeral, printed on stdout")
    parser.add_argument("--api-key", default=None, help="require 'Bearer KEY' (default: any)")
    parser.add_argument("--models", default="fake-model", help="comma-separated ids")
    parser.add_argument("--token-delay-ms", type=float, default=0.0, help="pause between chunks")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop after this long")
    args = parser.parse_args(argv)
    sock = bind(args.host, args.port)
    print(sock.getsockname()[1], flush=True)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    upstream = FakeUpstream(args.api_key, models, args.token_delay_ms / 1000)
    uvloop.run(serve(sock, upstream, args.max_seconds))


if __name__ == "__main__":
    main()

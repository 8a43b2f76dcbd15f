"""A fast fake Anthropic Messages upstream for benchmarks: raw asyncio + httptools, keep-alive.

``POST /v1/messages`` (``x-api-key`` and ``anthropic-version`` required) answers a real
``message`` object with usage, or, with ``"stream": true``, the Messages SSE events over
chunked transfer: ``message_start``, ``content_block_start``, ``ping``, one
``content_block_delta`` (``text_delta``) per content piece (20), ``content_block_stop``,
``message_delta`` (``stop_reason`` and usage) and ``message_stop``, all in one write.
``GET /v1/models`` lists the model. Errors use Anthropic's ``{"type": "error", ...}`` shape.

Run: ``python bench/fake_anthropic.py --port 0``; the first stdout line is the bound port.
It stops by itself after ``--max-seconds`` (default 3600).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from typing import Any

import orjson
import uvloop

from chat_payloads import CONTENT_PIECES
from fake_upstream import RequestProtocol, bind, serve

_COUNTER = itertools.count()


def head(status: bytes, content_type: bytes, extra: bytes) -> bytes:
    request_id = b"req_%024x" % next(_COUNTER)
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: " + content_type
        + b"\r\nrequest-id: " + request_id + b"\r\nanthropic-organization-id: bench\r\n"
        + extra + b"\r\n"
    )  # fmt: skip


def json_response(status: bytes, body: bytes) -> bytes:
    return head(status, b"application/json", b"content-length: %d\r\n" % len(body)) + body


def error_response(status: bytes, kind: str, message: str) -> bytes:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return json_response(status, orjson.dumps(body))


def frame(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def sse(event: str, data: dict[str, Any]) -> bytes:
    return frame(b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n")


class MessagesRequest:
    __slots__ = ("input_tokens", "model", "n_tokens", "stream")

    def __init__(self, body: bytes) -> None:
        data = orjson.loads(body) if body else {}
        if not isinstance(data, dict) or not data.get("messages"):
            raise ValueError("messages: field required")
        self.model = str(data.get("model") or "claude-fake")
        self.stream = bool(data.get("stream"))
        limit = int(data.get("max_tokens") or len(CONTENT_PIECES))
        self.n_tokens = max(1, min(len(CONTENT_PIECES), limit))
        self.input_tokens = max(1, len(body) // 4)

    @property
    def stop_reason(self) -> str:
        return "end_turn" if self.n_tokens == len(CONTENT_PIECES) else "max_tokens"


def new_id() -> str:
    return f"msg_01{next(_COUNTER):022x}"


def message_body(req: MessagesRequest) -> bytes:
    return orjson.dumps(
        {
            "id": new_id(),
            "type": "message",
            "role": "assistant",
            "model": req.model,
            "content": [{"type": "text", "text": "".join(CONTENT_PIECES[: req.n_tokens])}],
            "stop_reason": req.stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": req.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": req.n_tokens,
            },
        }
    )


def stream_body(req: MessagesRequest) -> bytes:
    message: dict[str, Any] = {
        "id": new_id(),
        "type": "message",
        "role": "assistant",
        "model": req.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": req.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 1,
        },
    }
    parts = [
        sse("message_start", {"type": "message_start", "message": message}),
        sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        sse("ping", {"type": "ping"}),
    ]
    for piece in CONTENT_PIECES[: req.n_tokens]:
        delta = {"type": "text_delta", "text": piece}
        parts.append(
            sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    parts.append(sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    final = {
        "type": "message_delta",
        "delta": {"stop_reason": req.stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": req.n_tokens},
    }
    parts.append(sse("message_delta", final))
    parts.append(sse("message_stop", {"type": "message_stop"}))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


class FakeAnthropic:
    def __init__(self, api_key: str | None, models: list[str]) -> None:
        self.api_key = api_key.encode() if api_key else None
        self.models = models

    def respond(self, method: bytes, url: bytes, headers: dict[bytes, bytes], body: bytes) -> bytes:
        path = url.split(b"?", 1)[0]
        if self.api_key is not None and headers.get(b"x-api-key") != self.api_key:
            return error_response(b"401 Unauthorized", "authentication_error", "invalid x-api-key")
        if b"anthropic-version" not in headers:
            return error_response(
                b"400 Bad Request", "invalid_request_error", "anthropic-version: header is required"
            )
        if path == b"/v1/messages" and method == b"POST":
            return self.messages(body)
        if path == b"/v1/models" and method == b"GET":
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in self.models
            ]
            listing = {"data": data, "has_more": False, "first_id": None, "last_id": None}
            return json_response(b"200 OK", orjson.dumps(listing))
        return error_response(b"404 Not Found", "not_found_error", f"Not found: {path.decode()}")

    def messages(self, body: bytes) -> bytes:
        try:
            req = MessagesRequest(body)
        except (ValueError, TypeError, AttributeError) as exc:
            return error_response(b"400 Bad Request", "invalid_request_error", str(exc))
        if not req.stream:
            return json_response(b"200 OK", message_body(req))
        start = head(
            b"200 OK", b"text/event-stream; charset=utf-8", b"transfer-encoding: chunked\r\n"
        )
        return start + stream_body(req)


class AnthropicProtocol(RequestProtocol):
    def __init__(self, server: FakeAnthropic) -> None:
        super().__init__()
        self.server = server

    def bad_request(self) -> bytes:
        return error_response(b"400 Bad Request", "invalid_request_error", "bad")

    def answer(
        self, transport: asyncio.Transport, method: bytes, url: bytes, body: bytes, keep: bool
    ) -> None:
        transport.write(self.server.respond(method, url, self.headers, body))
        if not keep:
            transport.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = ephemeral, printed on stdout")
    parser.add_argument("--api-key", default=None, help="require this x-api-key (default: any)")
    parser.add_argument("--models", default="claude-fake", help="ids to list")
    parser.add_argument("--max-seconds", type=float, default=3600.0, help="stop after this long")
    args = parser.parse_args(argv)
    sock = bind(args.host, args.port)
    print(sock.getsockname()[1], flush=True)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    fake = FakeAnthropic(args.api_key, models)
    uvloop.run(serve(sock, lambda: AnthropicProtocol(fake), args.max_seconds, "fake anthropic"))


if __name__ == "__main__":
    main()

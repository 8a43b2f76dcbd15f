"""Server-sent events: decoding an upstream's, and framing ours as OpenAI streams them
(``data: <json>\\n\\n`` ... ``data: [DONE]``). The only place that knows SSE framing."""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from cong.protocol.errors import APIError
from cong.protocol.stream import Events

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"


def encode_data(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


def encode_json(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


SEPARATOR = b"\n\ndata: "


def frame(payloads: list[bytes]) -> bytes:
    """JSON texts as consecutive ``data:`` events (one join)."""
    return b"data: " + SEPARATOR.join(payloads) + b"\n\n" if payloads else b""


def encode_events(events: Events) -> bytes:
    """One item of a stream as OpenAI's ``data:`` events (the end is the renderer's)."""
    out = frame(events.payloads)
    if events.chunks:
        out += b"".join([encode_json(chunk) for chunk in events.chunks])
    return out


class StreamRenderer(Protocol):
    """How a stream reaches the client: the bytes of each item, of a failure once the
    response has started (the last bytes sent), and of the end."""

    def events(self, events: Events) -> bytes: ...

    def error(self, error: APIError) -> bytes: ...

    def end(self) -> bytes: ...


class OpenAIEvents:
    """OpenAI's stream: ``data:`` events, an error event, then ``data: [DONE]``."""

    def events(self, events: Events) -> bytes:
        return encode_events(events)

    def error(self, error: APIError) -> bytes:
        return encode_data(error.json()) + DONE

    def end(self) -> bytes:
        return DONE


class SSEDecoder:
    """Incremental decoder: feed raw bytes, get the complete events' data fields.

    Multi-line ``data:`` fields are joined with ``\\n``; comments and other fields are
    ignored (``event:`` names are returned alongside by :meth:`feed_events`).
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        return [data for _event, data in self.feed_events(chunk)]

    def feed_events(self, chunk: bytes) -> list[tuple[bytes | None, bytes]]:
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *blocks, self._buffer = buffer.split(b"\n\n")
        events: list[tuple[bytes | None, bytes]] = []
        for block in blocks:
            if block.startswith(b"data: ") and b"\n" not in block:
                events.append((None, block[6:]))  # the usual one-line event, fast
                continue
            event = self._parse_block(block)
            if event is not None:
                events.append(event)
        return events

    @staticmethod
    def _parse_block(block: bytes) -> tuple[bytes | None, bytes] | None:
        name: bytes | None = None
        data: list[bytes] = []
        for line in block.split(b"\n"):
            if not line or line.startswith(b":"):
                continue
            field, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if field == b"data":
                data.append(value)
            elif field == b"event":
                name = value
        if not data:
            return None
        return name, b"\n".join(data)


def encode_event(name: str, obj: Any) -> bytes:
    """A named event (``event: <name>``), as Anthropic's Messages stream frames them."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"

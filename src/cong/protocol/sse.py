"""Server-sent events as OpenAI streams them: ``data: <json>\\n\\n`` ... ``data: [DONE]``."""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"


def encode_data(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


def encode_json(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


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
        self._buffer += chunk
        if b"\r" in self._buffer:
            self._buffer = self._buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[tuple[bytes | None, bytes]] = []
        while True:
            end = self._buffer.find(b"\n\n")
            if end < 0:
                return events
            block, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
            event = self._parse_block(block)
            if event is not None:
                events.append(event)

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

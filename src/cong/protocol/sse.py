"""Server-sent events as OpenAI streams them: ``data: <json>\\n\\n`` ... ``data: [DONE]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"


def encode_data(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


def encode_json(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


@dataclass(slots=True)
class RawEvents:
    """Events that arrived in one read, as the upstream's own JSON texts (the ``data:``
    fields), so that the ones needing no change can be relayed without being decoded
    and encoded again. ``last``: the upstream's ``[DONE]`` came with them."""

    payloads: list[bytes]
    last: bool = False


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

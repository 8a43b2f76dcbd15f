"""The one item type of every stream in the gateway, from a provider to the HTTP edge."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class Events:
    """Chunks of one stream (``chat.completion.chunk`` or ``text_completion`` objects)
    that arrived together, so that they go out in one write.

    ``payloads`` are chunks as JSON texts: an OpenAI-compatible upstream's own bytes,
    relayed without being decoded when nothing in them needs changing. ``chunks`` are
    decoded chunks (from a provider that translates, or after a change); they follow the
    payloads. ``end`` marks the last item of a stream that completed: nothing follows it.
    ``headers``, on a stream's first item only, are the upstream's response headers to
    pass on to the client (``UpstreamConfig.forwarded_headers``).
    """

    payloads: list[bytes] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)
    end: bool = False
    headers: dict[str, str] | None = None

    def objects(self) -> list[dict[str, Any]]:
        """Every chunk decoded, in order (for an edge that renders another format)."""
        return [orjson.loads(data) for data in self.payloads] + self.chunks


# A stream: closing it (``aclose``) stops the work behind it (the upstream request).
Stream = AsyncGenerator[Events, None]

"""The small interface every upstream protocol implements."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from cong.protocol.sse import RawEvents


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    first_byte: float = 300.0
    idle: float = 300.0
    total: float = 900.0


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """One upstream account as the provider needs it (credentials already decrypted)."""

    name: str
    base_url: str
    api_key: str | None = None
    api_version: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    # Human-readable name used in client-facing errors (never a URL or a key).
    label: str = "upstream"


# A stream yields chunk dicts; a list is several chunks that arrived together (relayed in
# one write); RawEvents are chunks still as the upstream's JSON (OpenAI-compatible
# upstreams), decoded only where they need a change.
StreamItem = dict[str, Any] | list[dict[str, Any]] | RawEvents


class Provider(Protocol):
    """Calls one upstream. Request bodies are OpenAI-shaped dicts with the upstream
    model name already set; results are OpenAI-shaped dicts (chunks for streams).
    Failures raise :class:`cong.protocol.errors.APIError` in the OpenAI envelope."""

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[StreamItem]: ...

    async def completion(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def stream_completion(self, body: dict[str, Any]) -> AsyncIterator[StreamItem]: ...

    async def embed(self, body: dict[str, Any]) -> dict[str, Any]: ...

    async def images(self, body: dict[str, Any]) -> dict[str, Any]: ...

    async def probe(self) -> bool: ...

    async def close(self) -> None: ...

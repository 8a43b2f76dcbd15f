"""The interface every upstream protocol implements, and what providers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from cong.protocol.errors import APIError, invalid_request
from cong.protocol.stream import Events, Stream


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
    # The upstream serves OpenAI's Responses API (``/responses``) itself.
    native_responses: bool = False
    # Response headers of this upstream passed on to the client (lower case); no other
    # upstream header ever reaches the client.
    forwarded_headers: tuple[str, ...] = ()
    # A child process of ``cong serve``, restarted by its supervisor when it dies (the
    # embedded model server): a connection lost mid-answer means it is restarting, so the
    # client gets a retryable 503 with ``retry-after`` rather than a 502.
    supervised: bool = False


class UpstreamAnswer(dict[str, Any]):
    """An upstream's JSON answer that came with headers to pass on to the client
    (``UpstreamConfig.forwarded_headers``); any other answer is a plain dict."""

    __slots__ = ("headers",)

    def __init__(self, data: dict[str, Any], headers: dict[str, str]) -> None:
        super().__init__(data)
        self.headers = headers


def forwarded_headers(answer: dict[str, Any]) -> dict[str, str]:
    """The headers an upstream's answer asks to pass on to the client (usually none)."""
    return answer.headers if isinstance(answer, UpstreamAnswer) else {}


class Capability(StrEnum):
    """What an upstream can do; a route is only used for what its provider offers."""

    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    IMAGES = "images"
    # Anthropic's Messages API as such (``/v1/messages`` passed through natively).
    MESSAGES = "messages"
    # OpenAI's Responses API as such (``/v1/responses`` passed through natively).
    RESPONSES = "responses"


# What the client is told it may do instead, per missing capability.
ALTERNATIVES = {
    Capability.CHAT: "chat completions; choose a chat model.",
    Capability.COMPLETIONS: "the legacy completions endpoint; use /v1/chat/completions "
    "for this model.",
    Capability.EMBEDDINGS: "embeddings; choose an embedding model.",
    Capability.IMAGES: "image generation.",
    Capability.MESSAGES: "Anthropic's Messages API natively.",
    Capability.RESPONSES: "OpenAI's Responses API natively.",
}


class Provider(Protocol):
    """Calls one upstream. Request bodies are OpenAI-shaped dicts with the upstream
    model name already set; answers are OpenAI-shaped dicts, streams are
    :class:`~cong.protocol.stream.Events` (closing one stops the upstream request).
    Failures raise :class:`cong.protocol.errors.APIError` in the OpenAI envelope; an
    operation outside ``capabilities`` raises :meth:`unsupported`'s error."""

    capabilities: frozenset[Capability]

    def unsupported(self, capability: Capability) -> APIError: ...

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def stream_chat(self, body: dict[str, Any]) -> Stream: ...

    async def completion(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def stream_completion(self, body: dict[str, Any]) -> Stream: ...

    async def embed(self, body: dict[str, Any]) -> dict[str, Any]: ...

    async def images(self, body: dict[str, Any]) -> dict[str, Any]: ...

    async def messages(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def stream_messages(self, body: dict[str, Any]) -> Stream: ...

    async def responses(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def stream_responses(self, body: dict[str, Any]) -> Stream: ...

    async def probe(self) -> bool: ...

    async def close(self) -> None: ...


class Upstream:
    """The base of every provider: it implements what its ``capabilities`` name; the
    rest answers 400 ``unsupported_by_upstream`` from here (never reached through the
    gateway, which routes only to providers that offer the operation)."""

    capabilities: frozenset[Capability] = frozenset()  # a provider may add per channel
    title: ClassVar[str] = "OpenAI-compatible"  # the upstream's kind, for error messages

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config

    def unsupported(self, capability: Capability) -> APIError:
        return invalid_request(
            f"The upstream {self.config.label} ({self.title}) does not offer "
            + ALTERNATIVES[capability],
            param="model",
            code="unsupported_by_upstream",
        )

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        raise self.unsupported(Capability.CHAT)

    def stream_chat(self, body: dict[str, Any]) -> Stream:
        return refused(self.unsupported(Capability.CHAT))

    async def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        raise self.unsupported(Capability.COMPLETIONS)

    def stream_completion(self, body: dict[str, Any]) -> Stream:
        return refused(self.unsupported(Capability.COMPLETIONS))

    async def embed(self, body: dict[str, Any]) -> dict[str, Any]:
        raise self.unsupported(Capability.EMBEDDINGS)

    async def images(self, body: dict[str, Any]) -> dict[str, Any]:
        raise self.unsupported(Capability.IMAGES)

    async def messages(self, body: dict[str, Any]) -> dict[str, Any]:
        raise self.unsupported(Capability.MESSAGES)

    def stream_messages(self, body: dict[str, Any]) -> Stream:
        return refused(self.unsupported(Capability.MESSAGES))

    async def responses(self, body: dict[str, Any]) -> dict[str, Any]:
        raise self.unsupported(Capability.RESPONSES)

    def stream_responses(self, body: dict[str, Any]) -> Stream:
        return refused(self.unsupported(Capability.RESPONSES))

    async def probe(self) -> bool:
        return False

    async def close(self) -> None:
        return None


async def refused(error: APIError) -> Stream:
    """A stream whose first read raises ``error``."""
    if error:
        raise error
    yield Events()  # never reached: makes this an async generator

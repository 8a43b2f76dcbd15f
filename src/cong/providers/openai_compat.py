"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp, DeepSeek,
OpenRouter, Groq, the embedded model server): bodies pass through unchanged."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, ClassVar

from cong.protocol.stream import Events, Stream
from cong.providers.base import Capability, Upstream, UpstreamConfig
from cong.providers.openai_responses_native import native_response, native_stream
from cong.providers.transport import HTTPTransport
from cong.providers.upstream_errors import error_from_stream_event


class OpenAICompatible(Upstream):
    """Provider for servers that speak the OpenAI HTTP API."""

    capabilities: frozenset[Capability] = frozenset(
        {Capability.CHAT, Capability.COMPLETIONS, Capability.EMBEDDINGS, Capability.IMAGES}
    )
    # Whether a channel's ``native_responses`` may add Capability.RESPONSES (``/responses``
    # under the base URL).
    serves_responses: ClassVar[bool] = True

    def __init__(self, config: UpstreamConfig) -> None:
        super().__init__(config)
        if config.native_responses and self.serves_responses:
            self.capabilities = self.capabilities | {Capability.RESPONSES}
        self.http = HTTPTransport(config)
        self._base = config.base_url.rstrip("/")
        self._headers = {"content-type": "application/json", **config.headers}
        if config.api_key:
            self._headers["authorization"] = f"Bearer {config.api_key}"

    async def close(self) -> None:
        await self.http.close()

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.http.post_json(self._base + "/chat/completions", body, self._headers)

    async def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.http.post_json(self._base + "/completions", body, self._headers)

    async def embed(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.http.post_json(self._base + "/embeddings", body, self._headers)

    async def images(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.http.post_json(self._base + "/images/generations", body, self._headers)

    async def responses(self, body: dict[str, Any]) -> dict[str, Any]:
        if Capability.RESPONSES not in self.capabilities:
            raise self.unsupported(Capability.RESPONSES)
        return await native_response(self.http, self._base + "/responses", self._headers, body)

    def stream_responses(self, body: dict[str, Any]) -> Stream:
        if Capability.RESPONSES not in self.capabilities:
            return super().stream_responses(body)
        url = self._base + "/responses"
        return native_stream(self.http, url, self._headers, body, self.config.label)

    def stream_chat(self, body: dict[str, Any]) -> Stream:
        return self._events(self._base + "/chat/completions", body)

    def stream_completion(self, body: dict[str, Any]) -> Stream:
        return self._events(self._base + "/completions", body)

    async def probe(self) -> bool:
        return await self.http.get_ok(self._base + "/models", self._headers)

    async def _chunks(self, url: str, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any], None]:
        """The stream's chunks one by one, decoded (for a provider that edits them)."""
        async with aclosing(self._events(url, body)) as events:
            async for item in events:
                for data in item.payloads:
                    yield self.http.decode_event(data)

    async def _events(self, url: str, body: dict[str, Any]) -> Stream:
        """The events of each read, undecoded, so that they can be relayed in one write;
        ``[DONE]`` ends the stream (``end``), an error event ends it with its error."""
        forwarded: dict[str, str] = {}
        reads = self.http.post_sse_batches(url, body, self._headers, forwarded)
        async with aclosing(reads):
            async for batch in reads:
                payloads: list[bytes] = []
                for _name, data in batch:
                    if data == b"[DONE]":
                        yield Events(payloads, end=True, headers=forwarded or None)
                        return
                    if b'"error"' in data:
                        event = self.http.decode_event(data)
                        if "error" in event and not event.get("choices"):
                            if payloads:
                                yield Events(payloads, headers=forwarded or None)
                            raise error_from_stream_event(event, self.config.label)
                    payloads.append(data)
                if payloads:
                    yield Events(payloads, headers=forwarded or None)
                    forwarded = {}  # the first item's only

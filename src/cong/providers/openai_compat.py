"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp, DeepSeek,
OpenRouter, Groq, the embedded model server): bodies pass through unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from cong.protocol.sse import RawEvents
from cong.providers.base import StreamItem, UpstreamConfig
from cong.providers.transport import HTTPTransport
from cong.providers.upstream_errors import error_from_stream_event


class OpenAICompatible:
    """Provider for servers that speak the OpenAI HTTP API."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
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

    def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[StreamItem]:
        return self._stream_batches("/chat/completions", body)

    def stream_completion(self, body: dict[str, Any]) -> AsyncIterator[StreamItem]:
        return self._stream_batches("/completions", body)

    async def probe(self) -> bool:
        return await self.http.get_ok(self._base + "/models", self._headers)

    async def _stream(self, path: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The stream's chunks one by one, decoded."""
        batches = self._stream_batches(path, body)
        try:
            async for batch in batches:
                assert isinstance(batch, RawEvents)
                for data in batch.payloads:
                    yield self.http.decode_event(data)
        finally:
            await batches.aclose()  # type: ignore[attr-defined]

    async def _stream_batches(self, path: str, body: dict[str, Any]) -> AsyncIterator[StreamItem]:
        """The events of each read, undecoded (:class:`RawEvents`), so that they can be
        relayed in one write; an error event ends the stream with its error."""
        events = self.http.post_sse_batches(self._base + path, body, self._headers)
        try:
            async for batch in events:
                payloads: list[bytes] = []
                for _name, data in batch:
                    if data == b"[DONE]":
                        if payloads:
                            yield RawEvents(payloads, last=True)
                        return
                    if b'"error"' in data:
                        event = self.http.decode_event(data)
                        if "error" in event and not event.get("choices"):
                            if payloads:
                                yield RawEvents(payloads)
                            raise error_from_stream_event(event, self.config.label)
                    payloads.append(data)
                if payloads:
                    yield RawEvents(payloads)
        finally:
            await events.aclose()  # type: ignore[attr-defined]

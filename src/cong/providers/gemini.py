"""Google Gemini (the Gemini API, ``…/v1beta``): chat through ``generateContent`` and
``streamGenerateContent?alt=sse``, embeddings through ``batchEmbedContents``. The key goes
in the ``x-goog-api-key`` header; the legacy completions endpoint has no Gemini twin."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any
from urllib.parse import quote

from cong.protocol.errors import upstream_error
from cong.protocol.stream import Events, Stream
from cong.providers.base import Capability, Upstream, UpstreamConfig
from cong.providers.gemini_translate import (
    GeminiStream,
    from_gemini_embed_response,
    from_gemini_response,
    gemini_error,
    model_path,
    to_gemini_embed_request,
    to_gemini_request,
)
from cong.providers.transport import HTTPTransport


class Gemini(Upstream):
    """Provider for Google's Gemini API."""

    capabilities: frozenset[Capability] = frozenset({Capability.CHAT, Capability.EMBEDDINGS})
    title = "Google Gemini"

    def __init__(self, config: UpstreamConfig) -> None:
        super().__init__(config)
        self.http = HTTPTransport(config, map_error=gemini_error)
        self._base = config.base_url.rstrip("/")
        self._headers = {"content-type": "application/json", **config.headers}
        if config.api_key:
            self._headers["x-goog-api-key"] = config.api_key

    def _url(self, model: str, method: str) -> str:
        return f"{self._base}/{quote(model_path(model), safe='/-._~')}:{method}"

    async def close(self) -> None:
        await self.http.close()

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        model = str(body["model"])
        answer = await self.http.post_json(
            self._url(model, "generateContent"), to_gemini_request(body), self._headers
        )
        return from_gemini_response(answer, model)

    async def stream_chat(self, body: dict[str, Any]) -> Stream:
        model = str(body["model"])
        request = to_gemini_request(body)
        translator = GeminiStream(model, self.config.label)
        url = self._url(model, "streamGenerateContent") + "?alt=sse"
        async with aclosing(self.http.post_sse(url, request, self._headers)) as events:
            async for _name, data in events:
                event = self.http.decode_event(data)
                if not isinstance(event, dict):
                    raise upstream_error(
                        f"The upstream {self.config.label} sent an unexpected stream event."
                    )
                chunks = translator.feed(event)
                if chunks:
                    yield Events(chunks=chunks)
        yield Events(chunks=[translator.finish()], end=True)

    async def embed(self, body: dict[str, Any]) -> dict[str, Any]:
        model = str(body["model"])
        answer = await self.http.post_json(
            self._url(model, "batchEmbedContents"), to_gemini_embed_request(body), self._headers
        )
        return from_gemini_embed_response(answer, model, body)

    async def probe(self) -> bool:
        return await self.http.get_ok(self._base + "/models", self._headers)

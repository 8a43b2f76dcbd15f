"""Azure OpenAI: the OpenAI wire format at per-deployment URLs
(``{base}/openai/deployments/{deployment}/chat/completions?api-version=…``), keyed with
the ``api-key`` header. The deployment is the request's (already mapped) model, and the
``model`` field itself is left out of the body."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any
from urllib.parse import quote

from cong.protocol.stream import Events, Stream
from cong.providers.base import UpstreamConfig
from cong.providers.openai_compat import OpenAICompatible

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAI(OpenAICompatible):
    """Provider for Azure OpenAI resources (``https://<resource>.openai.azure.com``)."""

    title = "Azure OpenAI"
    serves_responses = False  # Azure's Responses API lives elsewhere: translated to chat

    def __init__(self, config: UpstreamConfig) -> None:
        super().__init__(config)
        self._base = self._base.removesuffix("/openai")
        self._version = quote(config.api_version or DEFAULT_API_VERSION, safe="-.")
        self._headers.pop("authorization", None)
        if config.api_key:
            self._headers["api-key"] = config.api_key

    def _path(self, body: dict[str, Any], operation: str) -> str:
        deployment = quote(str(body.get("model") or ""), safe="")
        return f"/openai/deployments/{deployment}/{operation}?api-version={self._version}"

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        url = self._base + self._path(body, "chat/completions")
        return await self.http.post_json(url, _without_model(body), self._headers)

    async def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        url = self._base + self._path(body, "completions")
        return await self.http.post_json(url, _without_model(body), self._headers)

    async def embed(self, body: dict[str, Any]) -> dict[str, Any]:
        url = self._base + self._path(body, "embeddings")
        return await self.http.post_json(url, _without_model(body), self._headers)

    async def images(self, body: dict[str, Any]) -> dict[str, Any]:
        url = self._base + self._path(body, "images/generations")
        return await self.http.post_json(url, _without_model(body), self._headers)

    def stream_chat(self, body: dict[str, Any]) -> Stream:
        return self._azure_stream("chat/completions", body)

    def stream_completion(self, body: dict[str, Any]) -> Stream:
        return self._azure_stream("completions", body)

    async def probe(self) -> bool:
        url = f"{self._base}/openai/models?api-version={self._version}"
        return await self.http.get_ok(url, self._headers)

    async def _azure_stream(self, operation: str, body: dict[str, Any]) -> Stream:
        """Azure's stream minus its choice-less content-filter preamble. Its usage, when it
        sends one (in a chunk of its own or with the last choice), is relayed as it is;
        without any (older api-versions) the stream just ends and the gateway estimates:
        never a made-up zero usage."""
        url = self._base + self._path(body, operation)
        async with aclosing(self._chunks(url, _without_model(body))) as chunks:
            async for chunk in chunks:
                if not chunk.get("choices"):
                    if not chunk.get("usage"):
                        continue  # prompt_filter_results only
                    yield Events(chunks=[chunk], end=True)
                    return
                yield Events(chunks=[chunk])
        yield Events(chunks=[], end=True)


def _without_model(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "model"}

"""Anthropic's Messages API (``POST /v1/messages``) behind the OpenAI chat interface.

Auth is ``x-api-key`` plus ``anthropic-version`` (the configured ``api_version``,
default ``2023-06-01``). ``base_url`` may be given with or without the ``/v1`` suffix.
Chat is translated (:mod:`anthropic_translate`, :mod:`anthropic_stream`); Messages
requests from Anthropic clients are passed through natively (:mod:`anthropic_native`).
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from cong.protocol.stream import Events, Stream
from cong.providers.anthropic_native import native_message, native_stream
from cong.providers.anthropic_stream import iter_anthropic_stream
from cong.providers.anthropic_translate import (
    anthropic_error,
    from_anthropic_response,
    to_anthropic_request,
)
from cong.providers.base import Capability, Upstream, UpstreamConfig
from cong.providers.transport import HTTPTransport

DEFAULT_VERSION = "2023-06-01"


class Anthropic(Upstream):
    """Provider for the Anthropic Messages API."""

    capabilities: frozenset[Capability] = frozenset({Capability.CHAT, Capability.MESSAGES})
    title = "Anthropic"

    def __init__(self, config: UpstreamConfig) -> None:
        super().__init__(config)
        self.http = HTTPTransport(config, anthropic_error)
        base = config.base_url.rstrip("/")
        self._base = base[: -len("/v1")] if base.endswith("/v1") else base
        self._headers = {
            "content-type": "application/json",
            "anthropic-version": config.api_version or DEFAULT_VERSION,
            **config.headers,
        }
        if config.api_key:
            self._headers["x-api-key"] = config.api_key

    async def close(self) -> None:
        await self.http.close()

    async def probe(self) -> bool:
        return await self.http.get_ok(self._base + "/v1/models", self._headers)

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        request = to_anthropic_request(body)
        request.pop("stream", None)
        response = await self.http.post_json(self._base + "/v1/messages", request, self._headers)
        return from_anthropic_response(response, str(body.get("model", "")))

    async def stream_chat(self, body: dict[str, Any]) -> Stream:
        request = to_anthropic_request(body)
        request["stream"] = True
        events = self.http.post_sse(self._base + "/v1/messages", request, self._headers)
        async with aclosing(events):
            decoded = (self.http.decode_event(data) async for _name, data in events)
            model = str(body.get("model", ""))
            async with aclosing(iter_anthropic_stream(decoded, model, self.config.label)) as it:
                async for chunk in it:
                    yield Events(chunks=[chunk])

    async def messages(self, body: dict[str, Any]) -> dict[str, Any]:
        return await native_message(self.http, self._base + "/v1/messages", self._headers, body)

    def stream_messages(self, body: dict[str, Any]) -> Stream:
        url = self._base + "/v1/messages"
        return native_stream(self.http, url, self._headers, body, self.config.label)

"""OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp, DeepSeek,
OpenRouter, Groq, the embedded model server): bodies pass through unchanged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from cong.protocol.errors import (
    APIError,
    upstream_error,
    upstream_timeout,
    upstream_unavailable,
)
from cong.protocol.sse import SSEDecoder
from cong.providers.base import UpstreamConfig
from cong.providers.upstream_errors import error_from_stream_event, error_from_upstream


class OpenAICompatible:
    """Provider for servers that speak the OpenAI HTTP API."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self._base = config.base_url.rstrip("/")
        self._headers = {"content-type": "application/json", **config.headers}
        if config.api_key:
            self._headers["authorization"] = f"Bearer {config.api_key}"
        self._session: aiohttp.ClientSession | None = None
        t = config.timeouts
        self._timeout = aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post_json("/chat/completions", body)

    async def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post_json("/completions", body)

    async def embed(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._post_json("/embeddings", body)

    def stream_chat(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        return self._post_stream("/chat/completions", body)

    def stream_completion(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        return self._post_stream("/completions", body)

    async def probe(self) -> bool:
        try:
            async with asyncio.timeout(3):
                async with self._client().get(self._base + "/models", headers=self._headers) as r:
                    await r.read()
                    return r.status < 500
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def _open(self, path: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
        """Send the request and wait for the response head (first byte)."""
        try:
            async with asyncio.timeout(self.config.timeouts.first_byte):
                response = await self._client().post(
                    self._base + path, data=orjson.dumps(body), headers=self._headers
                )
                if response.status >= 400:
                    raw = await response.read()
                    response.release()
                    raise error_from_upstream(
                        response.status, raw, response.headers, self.config.label
                    )
                return response
        except aiohttp.ClientConnectionError as exc:
            raise self._connection_error(exc) from None
        except TimeoutError:
            raise upstream_timeout(
                f"The upstream {self.config.label} did not answer in time."
            ) from None

    def _connection_error(self, exc: Exception) -> APIError:
        if isinstance(exc, aiohttp.ClientConnectorError):
            return upstream_unavailable(
                f"The upstream {self.config.label} is not reachable right now; try again shortly.",
                retry_after=1,
            )
        return upstream_error(f"The connection to the upstream {self.config.label} failed.")

    async def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._open(path, body)
        try:
            async with asyncio.timeout(self.config.timeouts.idle):
                raw = await response.read()
        except aiohttp.ClientError as exc:
            raise self._connection_error(exc) from None
        except TimeoutError:
            raise upstream_timeout(
                f"The upstream {self.config.label} stopped sending its answer."
            ) from None
        finally:
            response.release()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise upstream_error(
                f"The upstream {self.config.label} sent an answer that is not JSON."
            ) from None
        if not isinstance(data, dict):
            raise upstream_error(f"The upstream {self.config.label} sent an unexpected answer.")
        return data

    async def _post_stream(self, path: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        response = await self._open(path, body)
        decoder = SSEDecoder()
        idle = self.config.timeouts.idle
        try:
            while True:
                try:
                    async with asyncio.timeout(idle):
                        chunk = await response.content.readany()
                except TimeoutError:
                    raise upstream_timeout(
                        f"The upstream {self.config.label} stalled for {idle:g} s mid-stream."
                    ) from None
                except aiohttp.ClientError as exc:
                    raise self._connection_error(exc) from None
                if not chunk:
                    return
                for data in decoder.feed(chunk):
                    if data == b"[DONE]":
                        return
                    try:
                        event = orjson.loads(data)
                    except orjson.JSONDecodeError:
                        raise upstream_error(
                            f"The upstream {self.config.label} sent a malformed stream event."
                        ) from None
                    if "error" in event and not event.get("choices"):
                        raise error_from_stream_event(event, self.config.label)
                    yield event
        finally:
            response.close() if not response.content.at_eof() else response.release()

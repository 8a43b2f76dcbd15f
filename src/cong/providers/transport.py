"""HTTP to upstreams: one pooled aiohttp session per upstream, timeouts, SSE reading,
and failures turned into OpenAI-envelope errors. Shared by every provider module."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

import aiohttp
import orjson

from cong.protocol.errors import (
    ENDPOINT_MISSING,
    APIError,
    upstream_error,
    upstream_timeout,
    upstream_unavailable,
)
from cong.protocol.sse import SSEDecoder
from cong.providers.base import UpstreamAnswer, UpstreamConfig
from cong.providers.upstream_errors import error_from_upstream, scrub

# Content types that are certainly not a stream of server-sent events.
NOT_A_STREAM = frozenset({"application/json", "text/html", "text/plain", "application/xml"})

# Seconds a client is told to wait when a supervised upstream died mid-answer: the
# supervisor's first restart delay plus loading the models.
RESTART_RETRY_AFTER = 5

# (status, raw body, response headers, label) -> the error the client sees
ErrorMapper = Callable[[int, bytes, Mapping[str, str], str], APIError]


class HTTPTransport:
    def __init__(self, config: UpstreamConfig, map_error: ErrorMapper = error_from_upstream):
        self.config = config
        self.label = config.label
        self.map_error = map_error
        self._session: aiohttp.ClientSession | None = None
        t = config.timeouts
        self._timeout = aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                skip_auto_headers=("User-Agent",),
                cookie_jar=aiohttp.DummyCookieJar(),  # an API client keeps no cookies
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_ok(self, url: str, headers: Mapping[str, str]) -> bool:
        """A cheap reachability probe: any answer below 500 within 3 s."""
        try:
            async with (
                asyncio.timeout(3),
                self.session().get(url, headers=headers, allow_redirects=False) as r,
            ):
                await r.read()
                return r.status < 500
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def open(
        self, url: str, body: dict[str, Any], headers: Mapping[str, str]
    ) -> aiohttp.ClientResponse:
        """Send a JSON POST and wait for the response head (the first-byte timeout)."""
        try:
            async with asyncio.timeout(self.config.timeouts.first_byte):
                return await self._send(url, body, headers)
        except TimeoutError:
            raise self._first_byte_timeout() from None

    async def _send(
        self, url: str, body: dict[str, Any], headers: Mapping[str, str]
    ) -> aiohttp.ClientResponse:
        try:
            # Never follow a redirect: it would carry the channel's key (and the body)
            # to wherever the upstream points, another host included.
            response = await self.session().post(
                url, data=orjson.dumps(body), headers=headers, allow_redirects=False
            )
            if response.status >= 300:
                raw = await response.read()
                response.release()
                raise self.failure(response.status, raw, response.headers)
            return response
        except aiohttp.ClientConnectionError as exc:
            raise self.connection_error(exc) from None

    def failure(self, status: int, raw: bytes, headers: Mapping[str, str]) -> APIError:
        """The client-facing error for an upstream's error answer: the provider's mapping,
        then the rules every channel shares (no key in the text, 429 is a rate limit, a
        missing endpoint or a redirect is the channel's fault)."""
        if status < 400:
            return APIError(
                502,
                f"The upstream {self.label} answered with a redirect (HTTP {status}); "
                "redirects are not followed. Check the channel's base_url.",
                type="server_error",
                code=ENDPOINT_MISSING,
            )
        error = self.map_error(status, raw, headers, self.label)
        error.message = scrub(error.message, (self.config.api_key,))
        if status == 429:
            error.type = error.code = "rate_limit_exceeded"
        elif status in (404, 405) and error.code != ENDPOINT_MISSING:
            error = APIError(
                502,
                f"The upstream {self.label} does not serve this endpoint (HTTP {status}): "
                f"{error.message}",
                type="server_error",
                code=ENDPOINT_MISSING,
            )
        return error

    def _first_byte_timeout(self) -> APIError:
        return upstream_timeout(f"The upstream {self.label} did not answer in time.")

    def connection_error(self, exc: Exception) -> APIError:
        if isinstance(exc, aiohttp.ClientConnectorError):
            # No retry-after: a refused connection follows the failure threshold and the
            # cool-down, it does not open the circuit by itself.
            return upstream_unavailable(
                f"The upstream {self.label} is not reachable right now; try again shortly."
            )
        if self.config.supervised:
            # It died mid-answer and its supervisor is starting it again: not retried
            # here (the retry-after moves on), the client retries once it is back.
            return upstream_unavailable(
                f"The {self.label} stopped while answering and is restarting; "
                f"retry in {RESTART_RETRY_AFTER} seconds.",
                retry_after=RESTART_RETRY_AFTER,
            )
        return upstream_error(f"The connection to the upstream {self.label} failed.")

    def forwarded(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The response headers this upstream passes on to the client."""
        names = self.config.forwarded_headers
        return {name: headers[name] for name in names if name in headers} if names else {}

    async def post_json(
        self, url: str, body: dict[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        timeouts = self.config.timeouts
        response = None
        try:
            async with asyncio.timeout(timeouts.first_byte):
                response = await self._send(url, body, headers)
            if response.content.is_eof():  # the body came with the head: no wait, no timer
                raw = await response.read()
            else:
                async with asyncio.timeout(timeouts.idle):
                    raw = await response.read()
        except aiohttp.ClientError as exc:
            raise self.connection_error(exc) from None
        except TimeoutError:
            if response is None:
                raise self._first_byte_timeout() from None
            raise upstream_timeout(
                f"The upstream {self.label} stopped sending its answer."
            ) from None
        finally:
            if response is not None:
                response.release()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise upstream_error(
                f"The upstream {self.label} sent an answer that is not JSON."
            ) from None
        if not isinstance(data, dict):
            raise upstream_error(f"The upstream {self.label} sent an unexpected answer.")
        forwarded = self.forwarded(response.headers)
        return UpstreamAnswer(data, forwarded) if forwarded else data

    async def post_sse(
        self, url: str, body: dict[str, Any], headers: Mapping[str, str]
    ) -> AsyncGenerator[tuple[bytes | None, bytes], None]:
        """POST, then yield ``(event name, data)`` of each server-sent event."""
        batches = self.post_sse_batches(url, body, headers)
        try:
            async for batch in batches:
                for event in batch:
                    yield event
        finally:
            await batches.aclose()

    async def post_sse_batches(
        self,
        url: str,
        body: dict[str, Any],
        headers: Mapping[str, str],
        forwarded: dict[str, str] | None = None,
    ) -> AsyncGenerator[list[tuple[bytes | None, bytes]], None]:
        """POST, then yield the server-sent events of each read as they arrive.
        The idle timeout applies between reads; closing the iterator closes the connection
        (so the upstream sees the disconnect and stops generating). ``forwarded`` gets the
        response headers to pass on to the client once the response head is in."""
        response = await self.open(url, body, headers)
        if forwarded is not None:
            forwarded.update(self.forwarded(response.headers))
        kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind in NOT_A_STREAM:
            # A JSON (or HTML) answer to a stream request: nothing to relay. Failing now,
            # before the first byte, lets routing try another channel; relaying it would
            # be an empty 200 stream.
            response.close()
            raise upstream_error(
                f"The upstream {self.label} answered a stream request with {kind}, "
                "not server-sent events."
            )
        decoder = SSEDecoder()
        idle = self.config.timeouts.idle
        content = response.content
        try:
            while True:
                try:
                    # What has arrived already is taken without arming a timer.
                    chunk = content.read_nowait()
                    if not chunk and not content.at_eof():
                        async with asyncio.timeout(idle):
                            chunk = await content.readany()
                except TimeoutError:
                    raise upstream_timeout(
                        f"The upstream {self.label} stalled for {idle:g} s mid-stream."
                    ) from None
                except aiohttp.ClientError as exc:
                    raise self.connection_error(exc) from None
                if not chunk:
                    return
                events = decoder.feed_events(chunk)
                if events:
                    yield events
        finally:
            if response.content.at_eof():
                response.release()
            else:
                response.close()

    def decode_event(self, data: bytes) -> Any:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            raise upstream_error(
                f"The upstream {self.label} sent a malformed stream event."
            ) from None

"""A stream on its way to the client: relabelled, its usage tracked, and settled exactly
once when it ends, however it ends.

After a client disconnect a priced request's upstream is read on for up to
``drain_seconds`` to learn the true usage (billing what was generated), then closed (a
free request's is closed at once, which stops the generation); without a usage report the
completion is estimated from the text received (``billing/estimates.py``). Each
settlement records its end reason: completed, length, client_disconnected, or on an
error the one ``client_errors.end_reason_of`` gives."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson

from cong.billing.estimates import bytes_tokens
from cong.billing.pricing import Usage
from cong.channels.events import routing_event
from cong.channels.health import ChannelHealth
from cong.gateway.client_errors import end_reason_of, naming_asked_model
from cong.gateway.metering import Meter, Metering, usage_of
from cong.protocol.errors import APIError, upstream_error
from cong.protocol.stream import Events, Stream

if TYPE_CHECKING:
    from cong.gateway.request import GatewayRequest

# Relayed as they are (no decoding) when an event names the model the client asked for and
# carries no usage; these find what the tally needs in the upstream's compact JSON.
USAGE_NULL = b'"usage":null'
NO_USAGE = b"," + USAGE_NULL
LENGTH_END = b'"finish_reason":"length"'
UNMEASURED_LIMIT = 256 * 1024
TEXT = re.compile(rb'"(?:content|text)":"((?:[^"\\]|\\.)*)"')

# An upstream stream opened by the router: its first item (None: it ended at once).
Opened = tuple[Events | None, Stream]


class StreamTally:
    """What a stream has told us so far."""

    def __init__(self, prompt_estimate: int) -> None:
        self.prompt_estimate = prompt_estimate
        self.usage: Usage | None = None
        self.text_size = 0  # UTF-8 bytes of generated text (the estimate without usage)
        self.finish_reasons: set[str] = set()
        # Relayed events whose text has not been measured yet: only needed if the stream
        # ends without a usage report, so measured then (or once they add up).
        self.unmeasured: list[bytes] = []
        self.unmeasured_size = 0

    def see(self, chunk: dict[str, Any]) -> None:
        if chunk.get("usage"):
            self.usage = usage_of(chunk)
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            text = delta.get("content") or choice.get("text")
            if text:
                self.text_size += len(text.encode())
            if delta.get("tool_calls"):
                self.text_size += len(str(delta["tool_calls"]).encode())
            if choice.get("finish_reason"):
                self.finish_reasons.add(choice["finish_reason"])

    def see_raw(self, events: bytes) -> None:
        """Events (JSON texts) known to carry no usage and no tool calls."""
        if LENGTH_END in events:
            self.finish_reasons.add("length")
        self.unmeasured.append(events)
        self.unmeasured_size += len(events)
        if self.unmeasured_size > UNMEASURED_LIMIT:
            self._measure()

    def generated_bytes(self) -> int:
        """UTF-8 bytes of the text generated so far."""
        self._measure()
        return self.text_size

    def _measure(self) -> None:
        for events in self.unmeasured:
            for text in TEXT.findall(events):
                if b"\\" in text:  # escapes: measure the decoded text
                    text = orjson.loads(b'"' + text + b'"').encode()
                self.text_size += len(text)
        self.unmeasured.clear()
        self.unmeasured_size = 0

    def take(self, item: Events) -> None:
        """Tally an item without relaying it (a stream drained after a disconnect)."""
        for data in item.payloads:
            self.see(_decode(data))
        for chunk in item.chunks:
            self.see(chunk)

    def final_usage(self) -> tuple[Usage, bool]:
        if self.usage is not None:
            return self.usage, False
        completion = bytes_tokens(self.generated_bytes())
        return Usage(prompt_tokens=self.prompt_estimate, completion_tokens=completion), True

    @property
    def end_reason(self) -> str:
        return "length" if "length" in self.finish_reasons else "completed"


def relabel(chunk: dict[str, Any], model: str, wants_usage: bool) -> dict[str, Any] | None:
    """Show the client the model id it asked for; keep usage only if it asked for it."""
    chunk["model"] = model
    if not wants_usage:
        if not chunk.get("choices") and chunk.get("usage"):
            return None
        chunk.pop("usage", None)
    return chunk


def _decode(data: bytes) -> dict[str, Any]:
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        chunk = None
    if not isinstance(chunk, dict):
        raise upstream_error("The upstream sent a malformed stream event.")
    return chunk


class Relabeller:
    """Tallies the items of one stream and turns them into what the client sees."""

    def __init__(self, tally: StreamTally, model: str, wants_usage: bool) -> None:
        self.tally = tally
        self.model = model
        self.wants_usage = wants_usage
        self.model_field = b'"model":' + orjson.dumps(model)

    def chunk(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        self.tally.see(chunk)
        return relabel(chunk, self.model, self.wants_usage)

    def events(self, item: Events) -> Events | None:
        """What the client sees of an item (None: nothing)."""
        if item.payloads:
            item.payloads = self.raw(item.payloads)
        if item.chunks:
            item.chunks = [out for chunk in item.chunks if (out := self.chunk(chunk)) is not None]
        return item if item.payloads or item.chunks else None

    def raw(self, payloads: list[bytes]) -> list[bytes]:
        """The events' JSON texts: all of them relayed as they are, or all but the last
        when that is the usage report (the usual end of a stream); otherwise each event is
        looked at on its own."""
        if len(payloads) > 1 and USAGE_NULL not in payloads[-1]:
            head = self._block(payloads[:-1])
            if head is not None:
                return head + self._one(payloads[-1])
        else:
            block = self._block(payloads)
            if block is not None:
                return block
        return [out for data in payloads for out in self._one(data)]

    def _block(self, payloads: list[bytes]) -> list[bytes] | None:
        """The texts of events that all name the asked model and carry no usage and no
        tool calls (checked over the joined text: one scan each), else None."""
        if not payloads:
            return []
        events = b"\n".join(payloads)
        count = len(payloads)
        if (
            events.count(self.model_field) != count
            or events.count(USAGE_NULL) != count
            or b'"tool_calls"' in events
        ):
            return None
        if not self.wants_usage and events.count(NO_USAGE) != count:
            return None
        self.tally.see_raw(events)  # only now: a None above means another path tallies
        if not self.wants_usage:
            return [data.replace(NO_USAGE, b"") for data in payloads]
        return payloads

    def _one(self, data: bytes) -> list[bytes]:
        block = self._block([data])
        if block is not None:
            return block
        relabelled = self.chunk(_decode(data))
        return [orjson.dumps(relabelled)] if relabelled is not None else []


class MeteredStreams:
    def __init__(
        self,
        metering: Metering,
        drain_seconds: float,
        health: ChannelHealth | None = None,
        max_drains: int = 100,
    ) -> None:
        self.metering = metering
        self.drain_seconds = drain_seconds
        self.max_drains = max_drains
        # The channel's verdict comes at the end of the stream, not at its first byte: a
        # stream failing midway counts against its channel (there is no failover then).
        self.health = health
        self._drains: set[asyncio.Task[None]] = set()

    async def run(
        self,
        meter: Meter,
        request: GatewayRequest,
        opening: Callable[[], Awaitable[Opened]],
        prompt_estimate: int,
    ) -> Stream:
        """The stream as the client sees it, opened (routed) at the first read. It always
        ends with an item marked ``end``, sent once the request is settled (so the end
        of the response and the settlement go together)."""
        first, upstream = await opening()
        tally = StreamTally(prompt_estimate)
        relay = Relabeller(tally, request.model, request.wants_usage)
        meter.first_byte = time.perf_counter()
        settled = False
        # A priced stream's reads are shielded: a client leaving (which cancels this
        # task) must not kill the upstream read, so the drain can take it over.
        drains = self.drain_seconds > 0 and bool(meter.hold.amount)
        pending: asyncio.Future[Events | None] | None = None
        try:
            item = first
            while item is not None and not item.end:
                out = relay.events(item)
                if out is not None:
                    yield out
                if drains:
                    pending = asyncio.ensure_future(anext(upstream, None))
                    item = await asyncio.shield(pending)
                    pending = None
                else:
                    item = await anext(upstream, None)
            last = (relay.events(item) if item is not None else None) or Events()
            last.end = True
            settled = True
            self._verdict(meter, None)
            await self._settle(meter, upstream, tally, 200, tally.end_reason)
            yield last
        except APIError as error:
            settled = True
            self._verdict(meter, error)
            reason = end_reason_of(error)
            await self._settle(meter, upstream, tally, error.status, reason)
            raise naming_asked_model(error, request.model, request.routes) from None
        finally:
            if not settled:
                if self.health is not None and meter.route is not None:
                    self.health.release(meter.route.channel)  # no verdict: the client left
                self._drain_later(meter, upstream, tally, pending)

    def _verdict(self, meter: Meter, error: APIError | None) -> None:
        if self.health is None or meter.route is None:
            return
        channel = meter.route.channel
        if error is None:
            self.health.success(channel)
            return
        routing_event(
            "stream_failed",
            logging.WARNING,
            channel=channel,
            status=error.status,
            code=error.code,
            error=error.message[:300],
        )
        self.health.failure(channel, error.message)

    async def _settle(
        self, meter: Meter, upstream: Stream, tally: StreamTally, status: int, reason: str
    ) -> None:
        """The one place a stream ends: the upstream closed, then the request settled."""
        with contextlib.suppress(Exception):
            await upstream.aclose()
        usage, estimated = tally.final_usage()
        await self.metering.finish(
            meter, usage, status=status, end_reason=reason, estimated=estimated
        )

    def _drain_later(
        self,
        meter: Meter,
        upstream: Stream,
        tally: StreamTally,
        pending: asyncio.Future[Events | None] | None,
    ) -> None:
        """The client went away: learn the usage in the background (finishing the read
        in flight first), then settle. A free request has nothing to learn, and past
        ``max_drains`` drains at once the rest stop at once: both are estimated."""
        drain = (
            tally.usage is None
            and self.drain_seconds > 0
            and bool(meter.hold.amount)
            and len(self._drains) < self.max_drains
        )

        async def run() -> None:
            try:
                if drain:
                    with contextlib.suppress(TimeoutError, APIError):
                        async with asyncio.timeout(self.drain_seconds):
                            item = await pending if pending is not None else None
                            if item is not None:
                                tally.take(item)
                            if item is not None or pending is None:
                                async for item in upstream:
                                    tally.take(item)
            finally:
                if pending is not None and not pending.done():
                    pending.cancel()
                    with contextlib.suppress(BaseException):
                        await pending
                await self._settle(meter, upstream, tally, 499, "client_disconnected")

        task = asyncio.get_running_loop().create_task(run())
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def close(self) -> None:
        if self._drains:
            await asyncio.gather(*self._drains, return_exceptions=True)

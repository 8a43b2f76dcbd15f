"""A stream on its way to the client: relabelled, its usage tracked, and settled exactly
once when it ends, however it ends.

After a client disconnect a priced request's upstream is read on for up to
``drain_seconds`` to learn the true usage (billing what was generated), then closed (a
free request's is closed at once, which stops the generation); without a usage report the
completion is estimated from the text received (``billing/estimates.py``). Each
settlement records its end reason: completed, length, client_disconnected,
upstream_error or timeout."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from cong.billing.estimates import bytes_tokens
from cong.billing.pricing import Usage
from cong.gateway.metering import Meter, Metering, usage_of
from cong.protocol.errors import APIError, upstream_error
from cong.protocol.sse import DONE, RawEvents, encode_json
from cong.providers.base import StreamItem

# Relayed as they are (no decoding) when an event names the model the client asked for and
# carries no usage; these find what the tally needs in the upstream's compact JSON.
USAGE_NULL = b'"usage":null'
LENGTH_END = b'"finish_reason":"length"'
UNMEASURED_LIMIT = 256 * 1024
TEXT = re.compile(rb'"(?:content|text)":"((?:[^"\\]|\\.)*)"')

# What the stream hands on: chunks, or events already encoded as SSE bytes.
Relayed = dict[str, Any] | list[dict[str, Any]] | bytes


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

    def take(self, item: StreamItem) -> None:
        """Tally an item without relaying it (a stream drained after a disconnect)."""
        if isinstance(item, RawEvents):
            for data in item.payloads:
                self.see(_decode(data))
        else:
            for chunk in [item] if isinstance(item, dict) else item:
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

    def __call__(self, item: dict[str, Any] | list[dict[str, Any]]) -> Relayed | None:
        if isinstance(item, dict):
            return self.chunk(item)
        out = [relabelled for chunk in item if (relabelled := self.chunk(chunk)) is not None]
        return out or None

    def raw(self, item: RawEvents) -> bytes:
        """The events as SSE bytes: all of them relayed as one block, or all but the last
        when that is the usage report (the usual end of a stream); otherwise each event is
        looked at on its own."""
        payloads = item.payloads
        if len(payloads) > 1 and USAGE_NULL not in payloads[-1]:
            head = self._block(payloads[:-1])
            if head is not None:
                return head + self._one(payloads[-1])
        else:
            block = self._block(payloads)
            if block is not None:
                return block
        return b"".join([self._one(data) for data in payloads])

    def _block(self, payloads: list[bytes]) -> bytes | None:
        """SSE bytes for events that all name the asked model and carry no usage and no
        tool calls (checked over the joined text: one scan each), else None."""
        if not payloads:
            return b""
        events = b"\n\ndata: ".join(payloads)
        count = len(payloads)
        if (
            events.count(self.model_field) != count
            or events.count(USAGE_NULL) != count
            or b'"tool_calls"' in events
        ):
            return None
        if not self.wants_usage and events.count(b"," + USAGE_NULL) != count:
            return None
        self.tally.see_raw(events)  # only now: a None above means another path tallies
        if not self.wants_usage:
            events = events.replace(b"," + USAGE_NULL, b"")
        return b"data: " + events + b"\n\n"

    def _one(self, data: bytes) -> bytes:
        block = self._block([data])
        if block is not None:
            return block
        relabelled = self.chunk(_decode(data))
        return encode_json(relabelled) if relabelled is not None else b""


class MeteredStreams:
    def __init__(self, metering: Metering, drain_seconds: float) -> None:
        self.metering = metering
        self.drain_seconds = drain_seconds
        self._drains: set[asyncio.Task[None]] = set()

    async def run(
        self,
        meter: Meter,
        first: StreamItem | None,
        chunks: AsyncIterator[StreamItem],
        model: str,
        wants_usage: bool,
        prompt_estimate: int,
    ) -> AsyncIterator[Relayed]:
        """The stream as the client sees it. When the upstream's ``[DONE]`` arrives with
        the last events, the request is settled first and those events come as bytes
        ending with ``data: [DONE]`` (the end of the response, in one write)."""
        tally = StreamTally(prompt_estimate)
        relay = Relabeller(tally, model, wants_usage)
        meter.first_byte = time.perf_counter()
        ended = False
        item = first
        try:
            while item is not None:
                out: Relayed | None
                if isinstance(item, RawEvents):
                    out = relay.raw(item)
                    if item.last:
                        ended = True
                        await self._settle(meter, chunks, tally)
                        yield out + DONE
                        return
                else:
                    out = relay(item)
                if out:
                    yield out
                item = await anext(chunks, None)
            ended = True
        except APIError as error:
            ended = True
            await chunks.aclose()  # type: ignore[attr-defined]
            usage, estimated = tally.final_usage()
            reason = "timeout" if error.status == 504 else "upstream_error"
            await self.metering.finish(
                meter, usage, status=error.status, end_reason=reason, estimated=estimated
            )
            raise
        finally:
            if ended and not meter.done:
                await self._settle(meter, chunks, tally)
            elif not ended:
                self._drain_later(meter, chunks, tally)

    async def _settle(
        self, meter: Meter, chunks: AsyncIterator[StreamItem], tally: StreamTally
    ) -> None:
        await chunks.aclose()  # type: ignore[attr-defined]
        usage, estimated = tally.final_usage()
        await self.metering.finish(
            meter, usage, status=200, end_reason=tally.end_reason, estimated=estimated
        )

    def _drain_later(
        self, meter: Meter, chunks: AsyncIterator[StreamItem], tally: StreamTally
    ) -> None:
        """The client went away: learn the usage in the background, then settle."""

        async def drain() -> None:
            try:
                # A free request has nothing to learn: stop the generation at once.
                if tally.usage is None and self.drain_seconds > 0 and meter.hold.amount:
                    with contextlib.suppress(TimeoutError, APIError):
                        async with asyncio.timeout(self.drain_seconds):
                            async for item in chunks:
                                tally.take(item)
            finally:
                with contextlib.suppress(Exception):
                    await chunks.aclose()  # type: ignore[attr-defined]
                usage, estimated = tally.final_usage()
                await self.metering.finish(
                    meter, usage, status=499, end_reason="client_disconnected", estimated=estimated
                )

        task = asyncio.get_running_loop().create_task(drain())
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def close(self) -> None:
        if self._drains:
            await asyncio.gather(*self._drains, return_exceptions=True)

"""A stream on its way to the client: relabelled, its usage tracked, and settled exactly
once when it ends, however it ends.

After a client disconnect a priced request's upstream is read on for up to
``drain_seconds`` to learn the true usage (billing what was generated), then closed (a
free request's is closed at once, which stops the generation); without a usage report the
completion is estimated from the text received (``services/estimates.py``). Each
settlement records its end reason: completed, length, client_disconnected,
upstream_error or timeout."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from cong.protocol.errors import APIError
from cong.providers.base import StreamItem
from cong.services.estimates import text_tokens
from cong.services.metering import Meter, Metering, usage_of
from cong.services.pricing import Usage

Chunks = AsyncIterator[dict[str, Any]]


class StreamTally:
    """What a stream has told us so far."""

    def __init__(self, prompt_estimate: int) -> None:
        self.prompt_estimate = prompt_estimate
        self.usage: Usage | None = None
        self.text_bytes: list[str] = []
        self.finish_reasons: set[str] = set()

    def see(self, chunk: dict[str, Any]) -> None:
        if chunk.get("usage"):
            self.usage = usage_of(chunk)
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            text = delta.get("content") or choice.get("text")
            if text:
                self.text_bytes.append(text)
            if delta.get("tool_calls"):
                self.text_bytes.append(str(delta["tool_calls"]))
            if choice.get("finish_reason"):
                self.finish_reasons.add(choice["finish_reason"])

    def final_usage(self) -> tuple[Usage, bool]:
        if self.usage is not None:
            return self.usage, False
        completion = text_tokens("".join(self.text_bytes))
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
    ) -> AsyncIterator[StreamItem]:
        tally = StreamTally(prompt_estimate)
        meter.first_byte = time.perf_counter()
        ended = False
        try:
            if first is not None:
                out = self._pass(first, tally, model, wants_usage)
                if out is not None:
                    yield out
                async for item in chunks:
                    out = self._pass(item, tally, model, wants_usage)
                    if out is not None:
                        yield out
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
                await chunks.aclose()  # type: ignore[attr-defined]
                usage, estimated = tally.final_usage()
                await self.metering.finish(
                    meter, usage, status=200, end_reason=tally.end_reason, estimated=estimated
                )
            elif not ended:
                self._drain_later(meter, chunks, tally)

    @staticmethod
    def _pass(
        item: StreamItem, tally: StreamTally, model: str, wants_usage: bool
    ) -> StreamItem | None:
        """Tally and relabel one item (a chunk, or chunks that arrived together)."""
        if isinstance(item, dict):
            tally.see(item)
            return relabel(item, model, wants_usage)
        out = []
        for chunk in item:
            tally.see(chunk)
            relabelled = relabel(chunk, model, wants_usage)
            if relabelled is not None:
                out.append(relabelled)
        return out or None

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
                                for chunk in item if isinstance(item, list) else [item]:
                                    tally.see(chunk)
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

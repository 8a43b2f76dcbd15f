"""A generation job: what to decode and the events it produces.

The batch engine decodes the job's choices on its own thread; the events of one decode
step (every job's) reach the event loop in one ``call_soon_threadsafe`` before the next
step is computed, so a stream gets each token as it is generated and the loop formats
and writes them while llama.cpp computes, instead of taking the GIL between samplings.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from cong.modelserver.sampler import SamplingParams
from cong.protocol.errors import APIError


@dataclass(frozen=True)
class ChoiceTask:
    """One choice to generate: ``index`` is its position in the response."""

    index: int
    prompt: list[int]
    seed: int
    max_tokens: int


@dataclass(frozen=True)
class ChoiceStarted:
    index: int
    cached_tokens: int


@dataclass(frozen=True)
class TextDelta:
    index: int
    text: str


@dataclass(frozen=True)
class ChoiceEnded:
    index: int
    finish_reason: str  # "stop" | "length" | "cancelled"
    completion_tokens: int


@dataclass(frozen=True)
class JobDone:
    pass


@dataclass(frozen=True)
class JobFailed:
    message: str
    retryable: bool = False  # the server is restarting: 503 with retry-after

    def error(self) -> APIError:
        if self.retryable:
            return APIError(
                503,
                self.message,
                type="server_error",
                code="service_unavailable",
                headers={"retry-after": "2"},
            )
        return APIError(500, self.message, type="server_error", code="generation_failed")


Event = ChoiceStarted | TextDelta | ChoiceEnded | JobDone | JobFailed


@dataclass
class GenerationStats:
    """Counters shown by ``GET /health`` (written by the engine thread only)."""

    tokens_generated: int = 0
    prompt_tokens_evaluated: int = 0
    prompt_tokens_cached: int = 0
    jobs_completed: int = 0
    jobs_cancelled: int = 0
    steps: int = 0  # llama_decode calls: the watchdog's progress counter


class Mailbox:
    """A job's events, read by one coroutine on its event loop (an ``asyncio.Queue`` read
    with ``wait_for`` costs a task and a timer per token)."""

    def __init__(self) -> None:
        self._items: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, event: Event) -> None:
        """On the event loop."""
        self._items.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    def get_nowait(self) -> Event:
        return self._items.popleft()

    async def get(self, keepalive: float) -> Event | None:
        """The next event, or None when ``keepalive`` seconds pass without one."""
        if not self._items:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(keepalive, _wake, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
            if not self._items:
                return None
        return self._items.popleft()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def deliver(events: list[tuple[GenerationJob, Event]]) -> None:
    """Hand events from the engine thread to their jobs: one wake-up per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[GenerationJob, Event]]] = {}
    for job, event in events:
        assert job.loop is not None
        by_loop.setdefault(job.loop, []).append((job, event))
    for loop, batch in by_loop.items():
        try:
            loop.call_soon_threadsafe(_post, batch)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            for job, _event in batch:
                job.cancelled.set()


def _post(batch: list[tuple[GenerationJob, Event]]) -> None:
    for job, event in batch:
        job.events.put_nowait(event)


@dataclass
class GenerationJob:
    tasks: list[ChoiceTask]
    params: SamplingParams
    stops: list[str] = field(default_factory=list)
    grammar: str | None = None
    loop: asyncio.AbstractEventLoop | None = None
    # False for a non-streamed answer: each choice's text comes in one event at its end
    # (no wake-up of the event loop per token, which takes CPU from the decode threads).
    streamed: bool = True
    cache_prompt: bool = True  # False: evaluate the whole prompt (llama.cpp's field)
    events: Mailbox = field(default_factory=Mailbox)
    cancelled: threading.Event = field(default_factory=threading.Event)
    open_tasks: int = 0  # choices not ended yet (engine thread)
    failed: bool = False

    def __post_init__(self) -> None:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        self.open_tasks = len(self.tasks)

    def cancel(self) -> None:
        self.cancelled.set()

    def abandon(self) -> None:
        """The client has gone (called on the event loop): stop, and wake the reader."""
        if not self.cancelled.is_set():
            self.cancelled.set()
            self.events.put_nowait(JobDone())

    async def next_event(self, keepalive: float) -> Event | None:
        """The next event, or None when ``keepalive`` seconds pass without one."""
        return await self.events.get(keepalive)

    def abort(self, message: str) -> None:
        """Fail the job with a retryable error now, from any thread (the server is
        stopping or its decode loop is stuck): the client is answered, never left hanging."""
        if not self.failed:
            self.failed = True
            self.cancelled.set()
            self.emit(JobFailed(message, retryable=True))

    def emit(self, event: Event) -> None:
        """Called from another thread (the engine sends a step's events with ``deliver``)."""
        assert self.loop is not None
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self.cancelled.set()


async def collect_job(
    job: GenerationJob,
    texts: dict[int, list[str]],
    usage: Any,
    keepalive: float,
) -> dict[int, str]:
    """Run a non-streamed job to its end: append each choice's text to ``texts``, count
    cached prompt and completion tokens into ``usage``, and return the finish reasons."""
    reasons: dict[int, str] = {}
    while True:
        event = await job.next_event(keepalive)
        if isinstance(event, ChoiceStarted) and event.index == 0:
            usage.cached_tokens = event.cached_tokens
        elif isinstance(event, TextDelta):
            texts[event.index].append(event.text)
        elif isinstance(event, ChoiceEnded):
            reasons[event.index] = event.finish_reason
            usage.completion_tokens += event.completion_tokens
        elif isinstance(event, JobFailed):
            raise event.error()
        elif isinstance(event, JobDone):
            return reasons

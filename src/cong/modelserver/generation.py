"""A generation job: what to decode and the events it produces.

The batch engine decodes the job's choices on its own thread; events reach the request's
event loop through ``call_soon_threadsafe``, one per token, so text is flushed as it is
generated.
"""

from __future__ import annotations

import asyncio
import threading
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
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
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
        if not self.events.empty():
            return self.events.get_nowait()
        try:
            return await asyncio.wait_for(self.events.get(), keepalive)
        except TimeoutError:
            return None

    def abort(self, message: str) -> None:
        """Fail the job with a retryable error now, from any thread (the server is
        stopping or its decode loop is stuck): the client is answered, never left hanging."""
        if not self.failed:
            self.failed = True
            self.cancelled.set()
            self.emit(JobFailed(message, retryable=True))

    def emit(self, event: Event) -> None:
        """Called from the worker thread."""
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

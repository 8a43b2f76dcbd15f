"""A generation job: what to decode, the events it produces, and the decode loop.

The loop runs on the worker thread; events reach the request's event loop through
``call_soon_threadsafe``, one per token, so text is flushed as it is generated.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cong.modelserver.chat_model import ChatModel, GenerationCancelled
from cong.modelserver.sampler import SamplingParams
from cong.modelserver.text_stream import TextAssembler
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


Event = ChoiceStarted | TextDelta | ChoiceEnded | JobDone | JobFailed


@dataclass
class GenerationStats:
    """Counters shown by ``GET /health`` (written by the worker thread only)."""

    tokens_generated: int = 0
    prompt_tokens_evaluated: int = 0
    jobs_completed: int = 0
    jobs_cancelled: int = 0
    active: bool = False


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
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()

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

    def emit(self, event: Event) -> None:
        """Called from the worker thread."""
        assert self.loop is not None
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self.cancelled.set()


def run_job(model: ChatModel, job: GenerationJob, stats: GenerationStats) -> None:
    """Decode every task of ``job`` in order, emitting events; never raises."""
    stats.active = True
    try:
        for task in job.tasks:
            if job.cancelled.is_set():
                break
            _run_choice(model, job, task, stats)
    except GenerationCancelled:
        pass
    except Exception as exc:  # reported to the client as a stream/server error
        job.emit(JobFailed(f"The model failed while generating: {exc}"))
        return
    finally:
        stats.active = False
    if job.cancelled.is_set():
        stats.jobs_cancelled += 1
    else:
        stats.jobs_completed += 1
    job.emit(JobDone())


def _run_choice(
    model: ChatModel, job: GenerationJob, task: ChoiceTask, stats: GenerationStats
) -> None:
    cancelled: Callable[[], bool] = job.cancelled.is_set
    cached = model.prime(task.prompt, cancelled)
    stats.prompt_tokens_evaluated += len(task.prompt) - cached
    job.emit(ChoiceStarted(task.index, cached))
    assembler = TextAssembler(job.stops)
    pieces: list[str] | None = None if job.streamed else []
    generated = 0
    reason = "length"
    with model.sampler(job.params, seed=task.seed, grammar=job.grammar) as sampler:
        while generated < task.max_tokens:
            if cancelled():
                reason = "cancelled"
                break
            token = sampler.sample()
            generated += 1
            stats.tokens_generated += 1
            if model.is_end(token):
                reason = "stop"
                break
            text = assembler.feed(model.piece(token))
            if text:
                if pieces is None:
                    job.emit(TextDelta(task.index, text))
                else:
                    pieces.append(text)
            if assembler.stopped:
                reason = "stop"
                break
            if generated >= task.max_tokens or model.n_past >= model.n_ctx:
                break
            model.advance(token)
    tail = assembler.finish()
    if tail and reason != "cancelled":
        if pieces is None:
            job.emit(TextDelta(task.index, tail))
        else:
            pieces.append(tail)
    if pieces:
        job.emit(TextDelta(task.index, "".join(pieces)))
    job.emit(ChoiceEnded(task.index, reason, generated))


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
            raise APIError(500, event.message, type="server_error", code="generation_failed")
        elif isinstance(event, JobDone):
            return reasons

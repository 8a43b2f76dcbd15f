"""Graceful shutdown: on SIGTERM the gateway stops taking work but lets what runs finish.

Readiness (``/api/ready``) turns 503 and new requests are refused with 503 while the
listening socket stays open (a load balancer sees the change); requests in flight run on
for up to ``server.drain_seconds``. Streams still open then are cut: they get an SSE
error event and ``[DONE]``, and their usage is settled once like any other ended stream.
Then the server itself is told to exit (uvicorn closes the connections and runs the
app's shutdown, which flushes the usage log)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("cong")

CUT_GRACE_SECONDS = 5.0  # how long cut streams get to write their last event


class Drain:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started: float | None = None
        self.in_flight = 0
        self.streams: set[asyncio.Task[Any]] = set()
        self.cut: set[asyncio.Task[Any]] = set()
        self._task: asyncio.Task[None] | None = None
        self._changed: asyncio.Event | None = None

    def enter(self) -> None:
        self.in_flight += 1

    def leave(self, task: asyncio.Task[Any] | None) -> None:
        self.in_flight -= 1
        if task is not None:
            self.streams.discard(task)
        if self._changed is not None:
            self._changed.set()

    @property
    def draining(self) -> bool:
        return self.started is not None

    def begin(self, then: Callable[[], None] | None = None) -> None:
        """Start draining (once); call ``then`` when done (it stops the server)."""
        if self.started is not None:
            return
        loop = asyncio.get_running_loop()
        self.started = loop.time()
        log.warning(
            "shutting down: refusing new requests, draining %d in flight (up to %g s)",
            self.in_flight,
            self.seconds,
        )
        self._task = loop.create_task(self._run(then))

    async def _run(self, then: Callable[[], None] | None) -> None:
        self._changed = asyncio.Event()
        await self._wait(lambda: not self.in_flight, self.seconds)
        if self.streams:
            log.warning("drain time is up: ending %d open stream(s)", len(self.streams))
        for task in list(self.streams):
            self.cut.add(task)
            task.cancel()
        await self._wait(lambda: not self.streams, CUT_GRACE_SECONDS)
        if then is not None:
            then()

    async def _wait(self, done: Callable[[], bool], seconds: float) -> None:
        """Until ``done()`` (checked whenever a request ends) or ``seconds`` passed."""
        assert self._changed is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not done() and (left := deadline - loop.time()) > 0:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    def was_cut(self, task: asyncio.Task[Any] | None) -> bool:
        return task is not None and task in self.cut


def install_signal_handlers(drain: Drain) -> None:
    """Drain on SIGTERM/SIGINT before the server's own handler runs. While draining, a
    second SIGINT (Ctrl+C again) goes straight to it and stops at once; a SIGTERM is
    ignored: with several workers each one gets SIGTERM from uvicorn's supervisor
    process as well as any signal sent to the whole process group (a terminal's Ctrl+C,
    systemd), and that second signal must not cut the drain short. Only possible in the
    main thread; elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread() or drain.seconds <= 0:
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(
            signum: int, frame: FrameType | None, previous: Callable[..., Any] = previous
        ) -> None:
            if drain.draining:
                if signum == signal.SIGINT:
                    previous(signum, frame)
                return
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(drain.begin, lambda: previous(signum, None))

        signal.signal(sig, handler)

"""The model server's own stall detector.

A chat engine that has work but has not finished a decode step for ``stall_seconds``
is stuck (a decode cannot take that long). Its requests are answered at once with a
retryable 503 (or an SSE error event), and ``/health`` turns 503 ``stalled`` so the
supervisor restarts the process, logging why. A slow but moving server is never stalled.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from cong.modelserver.batch_engine import BatchEngine

log = logging.getLogger("cong.modelserver")
RESTARTING = "The embedded model server is restarting; retry in a moment."


class Watchdog:
    """Watches the engines that ``engines()`` names by model id; ``stalled`` says why the
    first stuck one is stuck (empty while none is)."""

    def __init__(
        self, engines: Callable[[], Iterable[tuple[str, BatchEngine]]], stall_seconds: float
    ) -> None:
        self.engines = engines
        self.stall_seconds = stall_seconds
        self.stalled = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> None:
        now = time.monotonic()
        for model_id, engine in self.engines():
            idle_for = now - engine.last_step_at
            if engine.busy and idle_for > self.stall_seconds and not self.stalled:
                reason = f"{model_id}: no decode step for {idle_for:.0f} s while busy"
                self.stalled = reason
                log.error("stalled (%s); failing its requests so they can be retried", reason)
                engine.abort_all(RESTARTING)

    def _run(self) -> None:
        interval = min(1.0, self.stall_seconds / 4)
        while not self._stop.wait(interval):
            self.check()

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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cong.modelserver.runtime import ModelRuntime

log = logging.getLogger("cong.modelserver")
RESTARTING = "The embedded model server is restarting; retry in a moment."


class Watchdog:
    def __init__(self, runtime: ModelRuntime, stall_seconds: float) -> None:
        self.runtime = runtime
        self.stall_seconds = stall_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> None:
        now = time.monotonic()
        for serving in self.runtime.chats.values():
            engine = serving.engine
            idle_for = now - engine.last_step_at
            if engine.busy and idle_for > self.stall_seconds and not self.runtime.stalled:
                reason = f"{serving.model.id}: no decode step for {idle_for:.0f} s while busy"
                self.runtime.stalled = reason
                log.error("stalled (%s); failing its requests so they can be retried", reason)
                engine.abort_all(RESTARTING)

    def _run(self) -> None:
        interval = min(1.0, self.stall_seconds / 4)
        while not self._stop.wait(interval):
            self.check()

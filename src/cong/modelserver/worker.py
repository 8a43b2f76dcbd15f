"""The one thread that decodes with the chat model, fed by a bounded queue.

llama.cpp runs one sequence at a time per context, so jobs are served in arrival order;
the event loop only enqueues and reads events, it never waits on the model.
"""

from __future__ import annotations

import logging
import queue
import threading

from cong.modelserver.chat_model import ChatModel
from cong.modelserver.generation import GenerationJob, GenerationStats, JobDone, run_job

log = logging.getLogger("cong.modelserver")


class QueueFull(Exception):
    """More jobs are waiting than ``--max-queue`` allows."""


class GenerationWorker:
    def __init__(self, model: ChatModel, *, max_queue: int) -> None:
        self.model = model
        self.max_queue = max_queue
        self.stats = GenerationStats()
        self._queue: queue.Queue[GenerationJob | None] = queue.Queue(maxsize=max_queue)
        self._current: GenerationJob | None = None
        self._thread = threading.Thread(target=self._run, name="chat-generation", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def submit(self, job: GenerationJob) -> None:
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise QueueFull from None

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel the running and waiting jobs and end the thread."""
        current = self._current
        if current is not None:
            current.cancel()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel()
                job.emit(JobDone())
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:  # pragma: no cover - the queue was just drained
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.cancelled.is_set():
                self.stats.jobs_cancelled += 1
                job.emit(JobDone())
                continue
            self._current = job
            try:
                run_job(self.model, job, self.stats)
            except BaseException:  # pragma: no cover - run_job reports its own failures
                log.exception("generation worker crashed on a job")
            finally:
                self._current = None

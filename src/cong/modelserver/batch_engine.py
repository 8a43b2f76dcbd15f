"""Continuous batching: one thread decodes every running choice of a chat model together.

Each step builds one ``llama_batch``: the last sampled token of every generating
sequence, then chunks of the prompts being evaluated (up to ``n_batch`` tokens in all,
so a long prompt never stalls the others for more than one chunk), calls
``llama_decode`` once and samples each sequence that got logits. Requests join a free
slot between steps and leave it when they end; a cancelled request (client gone) leaves
at the next step. Requests beyond the free slots wait in a bounded queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import llama_cpp

from cong.modelserver.chat_model import ChatModel
from cong.modelserver.generation import (
    ChoiceEnded,
    ChoiceStarted,
    ChoiceTask,
    Event,
    GenerationJob,
    GenerationStats,
    JobDone,
    JobFailed,
    TextDelta,
    deliver,
)
from cong.modelserver.kv_slots import (
    Choice,
    Slot,
    cache_start,
    pick_slot,
    prompt_chunk,
)
from cong.modelserver.text_stream import TextAssembler

log = logging.getLogger("cong.modelserver")
GENERATION_RESERVE = 16  # KV cells kept free per running sequence when admitting
MIN_COPY_GAIN = 8  # prompt tokens another slot's cache must save to be copied


class QueueFull(Exception):
    """More choices are waiting than ``max_queue`` allows."""


class BatchEngine:
    def __init__(self, model: ChatModel, *, max_queue: int) -> None:
        self.model = model
        self.max_queue = max_queue
        self.stats = GenerationStats()
        self.slots = [Slot(seq_id) for seq_id in range(model.parallel)]
        self._waiting: deque[tuple[GenerationJob, ChoiceTask]] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._running = 0  # slots with a choice (read by other threads)
        self.last_step_at = time.monotonic()
        self._batch = llama_cpp.llama_batch_init(model.n_batch, 0, 1)
        self._outbox: list[tuple[GenerationJob, Event]] = []  # sent once per step
        # With a cache stream per slot, a prompt may start from a copy of another slot's
        # stream: all its cells (2,048 of SmolLM2: ~3 ms on 2 cores, about one prompt
        # token's evaluation), so only when that saves enough tokens. One pool: never
        # (shared cells would break its accounting).
        self._copy_gain = (
            max(MIN_COPY_GAIN, model.seq_cells // 1024) if model.per_sequence else None
        )
        self._thread = threading.Thread(target=self._run, name=f"decode-{model.id}", daemon=True)

    # Other threads

    def start(self) -> None:
        self._thread.start()

    @property
    def active(self) -> int:
        return self._running

    @property
    def queued(self) -> int:
        """Choices waiting for a slot."""
        return max(0, len(self._waiting) - (len(self.slots) - self._running))

    @property
    def busy(self) -> bool:
        return bool(self._running or self._waiting)

    def submit(self, job: GenerationJob) -> None:
        with self._cond:
            if self.queued + len(job.tasks) > self.max_queue + self._free_unclaimed():
                raise QueueFull
            if not self.busy:
                self.last_step_at = time.monotonic()  # idle time is not a stall
            self._waiting.extend((job, task) for task in job.tasks)
            self._cond.notify()

    def _free_unclaimed(self) -> int:
        return max(0, len(self.slots) - self._running - len(self._waiting))

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel the running and waiting jobs and end the thread."""
        with self._cond:
            self._stopping = True
            for job, _task in self._waiting:
                job.cancel()
            self._cond.notify()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            llama_cpp.llama_batch_free(self._batch)

    def abort_all(self, message: str) -> int:
        """Fail every running and waiting job with a retryable error (any thread)."""
        with self._cond:
            jobs = {id(j): j for j, _ in self._waiting}
            jobs.update({id(s.choice.job): s.choice.job for s in self.slots if s.choice})
        for job in jobs.values():
            job.abort(message)
        return len(jobs)

    # The engine thread

    def _run(self) -> None:
        try:
            while self._next_round():
                self._step()
        except BaseException:  # pragma: no cover - a bug: fail loudly, the watchdog restarts
            log.exception("the decode loop of %s crashed", self.model.id)
            raise
        finally:
            self._shutdown()
            self._flush()

    def _emit(self, job: GenerationJob, event: Event) -> None:
        self._outbox.append((job, event))

    def _flush(self) -> None:
        """Send the events gathered since the last flush (just before each decode, so
        the event loop handles them while llama.cpp computes)."""
        if self._outbox:
            events, self._outbox = self._outbox, []
            deliver(events)

    def _next_round(self) -> bool:
        """Admit waiting choices into free slots; False when stopping."""
        with self._cond:
            while not self._stopping and not self._waiting and not self._running:
                self._flush()
                self._cond.wait()
            if self._stopping:
                return False
            admitted = self._take_waiting()
        for job, task, slot in admitted:
            self._admit(job, task, slot)
        return True

    def _take_waiting(self) -> list[tuple[GenerationJob, ChoiceTask, Slot]]:
        taken: list[tuple[GenerationJob, ChoiceTask, Slot]] = []
        free = [s for s in self.slots if s.choice is None]
        while self._waiting and free:
            job, task = self._waiting[0]
            if job.cancelled.is_set():
                self._waiting.popleft()
                self._end_task(job)
                continue
            if not self._fits(task.prompt, len(taken)):
                break  # in order: the head waits for cells rather than being overtaken
            self._waiting.popleft()
            slot, _ = pick_slot(free, task.prompt)
            free.remove(slot)
            taken.append((job, task, slot))
            self._running += 1
        return taken

    def _fits(self, prompt: list[int], admitting: int) -> bool:
        """Whether the KV cache can take this prompt now (idle caches are evicted)."""
        if self.model.per_sequence:
            return True  # its slot's own cells hold a full context
        running = [s for s in self.slots if s.choice is not None]
        committed = sum(len(s.tokens) + len(s.choice.pending) for s in running if s.choice)
        committed += (len(running) + admitting + 1) * GENERATION_RESERVE
        return committed + len(prompt) <= self.model.kv_cells or (not running and not admitting)

    def _admit(self, job: GenerationJob, task: ChoiceTask, slot: Slot) -> None:
        memory = self.model.memory
        source, reuse = (
            cache_start(self.slots, slot, task.prompt, self._copy_gain)
            if job.cache_prompt
            else (None, 0)
        )
        if source is not None:  # start from a copy of another slot's cells
            llama_cpp.llama_memory_seq_cp(memory, source.seq_id, slot.seq_id, -1, -1)
            slot.tokens[:] = source.tokens
            slot.reusable = source.reusable
        if not llama_cpp.llama_memory_seq_rm(memory, slot.seq_id, reuse, -1):
            llama_cpp.llama_memory_seq_rm(memory, slot.seq_id, -1, -1)
            reuse = 0
        del slot.tokens[reuse:]
        slot.reusable = min(slot.reusable, reuse)
        try:
            sampler = self.model.sampler(job.params, seed=task.seed, grammar=job.grammar)
        except Exception as exc:  # a grammar llama.cpp rejects: fail this job only
            self._running -= 1
            self._fail(job, f"The model failed while generating: {exc}")
            return
        slot.choice = Choice(
            job,
            task,
            sampler,
            TextAssembler(job.stops),
            pending=task.prompt[reuse:],
            cached=reuse,
            pieces=None if job.streamed else [],
        )
        self.stats.prompt_tokens_cached += reuse
        self._evict_for(len(task.prompt) - reuse)

    def _evict_for(self, cells: int) -> None:
        """Drop idle slots' caches (least recently used first) until ``cells`` are free."""
        if self.model.per_sequence:
            return  # another slot's cells would not help
        free = self._free_cells()
        for slot in sorted(self.slots, key=lambda s: s.used_at):
            if free >= cells:
                return
            if slot.choice is None and slot.tokens:
                llama_cpp.llama_memory_seq_rm(self.model.memory, slot.seq_id, -1, -1)
                free += len(slot.tokens)
                slot.tokens.clear()
                slot.reusable = 0

    def _step(self) -> None:
        for slot in self.slots:
            choice = slot.choice
            if choice is not None and choice.job.cancelled.is_set():
                self._finish(slot, "cancelled")
        batch = self._batch
        n = 0
        generating = len(self._make_room())
        room = self.model.n_batch - generating
        if not self.model.per_sequence:
            room = min(room, self._free_cells())
        # In sequence order: llama.cpp splits a per-sequence cache's batch into runs of
        # consecutive sequence ids, one computation each.
        for slot in self.slots:
            choice = slot.choice
            if choice is None:
                continue
            if not choice.prefilling:
                assert choice.last is not None
                n = self._add(batch, n, slot, [choice.last], logits=True)
                continue
            if room < 2 and (n or generating):
                continue
            take = prompt_chunk(len(choice.pending), room)
            if take == 0:
                continue
            chunk, choice.pending = choice.pending[:take], choice.pending[take:]
            n = self._add(batch, n, slot, chunk, logits=not choice.pending)
            self.stats.prompt_tokens_evaluated += take
            room -= take
        self._flush()
        if n == 0:
            return
        batch.n_tokens = n
        started = time.perf_counter()
        code = llama_cpp.llama_decode(self.model.ctx, batch)
        elapsed = time.perf_counter() - started
        self.stats.steps += 1
        self.last_step_at = time.monotonic()
        if code != 0:
            self._decode_failed(code)
            return
        if n == generating:
            self.model.decode_threads.observe(elapsed)
        for slot in self.slots:
            if slot.choice is not None and slot.choice.batch_index >= 0:
                self._sample(slot, slot.choice)

    def _make_room(self) -> list[Slot]:
        """The generating slots, once the KV cache has a cell for each of their next
        tokens and room for the waiting prompt chunks (idle caches are evicted first;
        when running sequences alone overflow it, the longest ends with "length")."""
        while True:
            generating = [s for s in self.slots if s.choice is not None and not s.choice.prefilling]
            if self.model.per_sequence:
                return generating  # each sequence has cells for its whole context
            prefill = sum(len(s.choice.pending) for s in self.slots if s.choice is not None)
            self._evict_for(len(generating) + min(prefill, self.model.n_batch))
            if self._free_cells() >= len(generating) or not generating:
                return generating
            self._finish(max(generating, key=lambda s: len(s.tokens)), "length")

    def _free_cells(self) -> int:
        return self.model.kv_cells - sum(len(s.tokens) for s in self.slots)

    def _add(self, batch: llama_cpp.llama_batch, n: int, slot: Slot, tokens: list[int],
             *, logits: bool) -> int:  # fmt: skip
        choice = slot.choice
        assert choice is not None
        position = len(slot.tokens)
        for i, token in enumerate(tokens):
            batch.token[n + i] = token
            batch.pos[n + i] = position + i  # type: ignore[call-overload]
            batch.n_seq_id[n + i] = 1
            batch.seq_id[n + i][0] = slot.seq_id
            batch.logits[n + i] = 0
        slot.tokens.extend(tokens)
        n += len(tokens)
        if logits:
            batch.logits[n - 1] = 1
        choice.batch_index = n - 1 if logits else -1
        return n

    def _sample(self, slot: Slot, choice: Choice) -> None:
        index, choice.batch_index = choice.batch_index, -1
        if choice.generated == 0:
            slot.reusable = len(slot.tokens)  # the whole prompt was computed in batches
            self._emit(choice.job, ChoiceStarted(choice.task.index, choice.cached))
        token = choice.sampler.sample(index)
        choice.generated += 1
        self.stats.tokens_generated += 1
        if self.model.is_end(token):
            self._finish(slot, "stop")
            return
        text = choice.assembler.feed(self.model.piece(token))
        if text:
            self._text(choice, text)
        if choice.assembler.stopped:
            self._finish(slot, "stop")
        elif choice.generated >= choice.task.max_tokens or len(slot.tokens) >= self.model.n_ctx:
            self._finish(slot, "length")
        else:
            choice.last = token

    def _text(self, choice: Choice, text: str) -> None:
        if choice.pieces is None:
            self._emit(choice.job, TextDelta(choice.task.index, text))
        else:
            choice.pieces.append(text)

    def _finish(self, slot: Slot, reason: str) -> None:
        choice = slot.choice
        assert choice is not None
        tail = choice.assembler.finish()
        if tail and reason != "cancelled":
            self._text(choice, tail)
        if choice.pieces:
            self._emit(choice.job, TextDelta(choice.task.index, "".join(choice.pieces)))
        self._emit(choice.job, ChoiceEnded(choice.task.index, reason, choice.generated))
        choice.sampler.close()
        if choice.prefilling:  # cells of a prompt evaluated in part are not reusable
            slot.reusable = min(slot.reusable, choice.cached)
        slot.choice = None
        slot.used_at = time.monotonic()
        self._running -= 1
        self._end_task(choice.job)

    def _end_task(self, job: GenerationJob) -> None:
        job.open_tasks -= 1
        if job.open_tasks > 0 or job.failed:
            return
        if job.cancelled.is_set():
            self.stats.jobs_cancelled += 1
        else:
            self.stats.jobs_completed += 1
        self._emit(job, JobDone())

    def _fail(self, job: GenerationJob, message: str) -> None:
        if not job.failed:
            job.failed = True
            job.cancel()
            self._emit(job, JobFailed(message))

    def _decode_failed(self, code: int) -> None:
        """llama_decode refused the batch: fail the jobs in it, drop their cells."""
        log.error("llama_decode returned %d for %s", code, self.model.id)
        for slot in self.slots:
            choice = slot.choice
            if choice is None:
                continue
            self._fail(choice.job, f"The model failed while generating (llama_decode {code}).")
            choice.sampler.close()
            llama_cpp.llama_memory_seq_rm(self.model.memory, slot.seq_id, -1, -1)
            slot.tokens.clear()
            slot.reusable = 0
            slot.choice = None
            self._running -= 1

    def _shutdown(self) -> None:
        for slot in self.slots:
            if slot.choice is not None:
                slot.choice.job.cancel()
                self._finish(slot, "cancelled")
        with self._cond:
            waiting, self._waiting = list(self._waiting), deque()
        for job, _task in waiting:
            self._end_task(job)

"""Choosing the decode thread count by measured speed (``--threads 0``).

With every core decoding, llama.cpp's OpenMP threads spin at the barriers between
operations. When another process (the gateway, say) takes a core, a spinning thread
waits out whole scheduler slices and decoding collapses. Measured on 2 cores, one
200-token stream: 2 threads ~122 tokens/s idle but ~34–44 next to one busy process
(down to 4 under heavier load); 1 thread ~72 idle and ~78 next to it.
So the worker starts with every core, keeps a moving average of the time per token
for each candidate count, tries the other candidate for a few tokens now and then,
and decodes with the faster one; prompts are evaluated with the same count. Results
are bit-identical whatever the count.
"""

from __future__ import annotations

from collections.abc import Callable

ALPHA = 0.25  # weight of the newest sample in the moving average
FIRST_PROBE_AFTER = 16
# Tokens between probes: doubled up to MAX_PROBE_EVERY while the best count holds.
PROBE_EVERY = 64
MAX_PROBE_EVERY = 512
PROBE_TOKENS = 4  # measured after one warm-up token
GIVE_UP_FACTOR = 2.0  # a probe slower than this times the best ends at once


def thread_candidates(cores: int) -> list[int]:
    """Every core first, then one fewer (leaving a core to the gateway)."""
    return [cores] if cores <= 1 else [cores, cores - 1]


class DecodeThreads:
    def __init__(self, candidates: list[int], apply: Callable[[int], None]) -> None:
        self.candidates = candidates
        self._apply = apply
        self._latency: dict[int, float] = {}
        self.current = candidates[0]
        self._best = self.current
        self._countdown = FIRST_PROBE_AFTER
        self._interval = PROBE_EVERY
        self._probing = False
        self._warmup = False
        self._next_probe = 0
        apply(self.current)

    def observe(self, seconds: float) -> None:
        """Record the time the last token's decode took, and maybe switch."""
        if len(self.candidates) < 2:
            return
        if self._warmup:  # the first token after a switch pays for the switch
            self._warmup = False
            return
        previous = self._latency.get(self.current)
        self._latency[self.current] = (
            seconds if previous is None else ALPHA * seconds + (1 - ALPHA) * previous
        )
        self._countdown -= 1
        if self._probing:
            best = self._latency.get(self._best, seconds)
            if self._countdown <= 0 or seconds > GIVE_UP_FACTOR * best:
                self._end_probe()
        elif self._countdown <= 0 or self._worse_than_known_alternative():
            self._start_probe()

    def _worse_than_known_alternative(self) -> bool:
        """The current count has slowed down below what another one measured."""
        current = self._latency[self.current]
        return any(
            latency * GIVE_UP_FACTOR < current
            for threads, latency in self._latency.items()
            if threads != self.current
        )

    def _start_probe(self) -> None:
        others = [c for c in self.candidates if c != self._best]
        self._next_probe = (self._next_probe + 1) % len(others)
        self._probing = True
        self._countdown = PROBE_TOKENS
        self._switch(others[self._next_probe])

    def _end_probe(self) -> None:
        self._probing = False
        best = min(self._latency, key=self._latency.__getitem__)
        self._interval = (
            PROBE_EVERY if best != self._best else min(self._interval * 2, MAX_PROBE_EVERY)
        )
        self._best = best
        self._countdown = self._interval
        self._switch(best)

    def _switch(self, threads: int) -> None:
        if threads != self.current:
            self.current = threads
            self._warmup = True
            self._apply(threads)

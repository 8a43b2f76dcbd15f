"""The in-process rate limiter: per-scope bucket triples in a dict (see ``limits.base``
for the window arithmetic and the headers)."""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from cong.limits.base import REQUESTS, TOKENS, Decision, Denial, Limit, Usage, Window, decide


class _Scope:
    """One scope's usage: flat ``[bucket, requests, tokens, …]`` triples, oldest first,
    one per non-empty bucket, and the running totals."""

    __slots__ = ("entries", "requests", "tokens")

    def __init__(self) -> None:
        self.entries: list[int] = []
        self.requests = 0
        self.tokens = 0

    def expire(self, oldest: int) -> None:
        entries = self.entries
        if not entries or entries[0] >= oldest:
            return
        end, size = 0, len(entries)
        while end < size and entries[end] < oldest:
            end += 3
        if end >= size:
            entries.clear()
            self.requests = self.tokens = 0
            return
        self.requests -= sum(entries[1:end:3])
        self.tokens -= sum(entries[2:end:3])
        del entries[:end]

    def add(self, bucket: int, requests: int, tokens: int) -> None:
        entries = self.entries
        if entries and entries[-3] >= bucket:  # same bucket (or a clock that went back)
            entries[-2] += requests
            entries[-1] += tokens
        else:
            entries += (bucket, requests, tokens)
        self.requests += requests
        self.tokens += tokens

    def refund(self, bucket: int | None, tokens: int) -> None:
        """Take ``tokens`` off ``bucket`` (None: off the newest buckets), never below 0."""
        entries = self.entries
        for i in range(len(entries) - 3, -1, -3):
            if bucket is not None and entries[i] != bucket:
                continue
            take = min(entries[i + 2], tokens)
            entries[i + 2] -= take
            self.tokens -= take
            tokens -= take
            if bucket is not None or tokens <= 0:
                return

    def wait(self, dim: int, need: int, window: Window, now: float) -> float:
        """Seconds until ``need`` units of ``dim`` have left the window."""
        freed, entries = 0, self.entries
        for i in range(0, len(entries), 3):
            freed += entries[i + dim]
            if freed >= need:
                return max(0.0, window.expiry(entries[i]) - now)
        return window.seconds  # unreachable while need <= the total


class MemoryRateLimiter:
    """Per-process limiter. Idle scopes (nothing left in the window) are dropped once per
    window; past ``max_scopes`` the least recently charged are evicted (forgetting their
    usage — only under extreme scope churn)."""

    name = "memory"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        window: float = 60.0,
        granularity: float = 1.0,
        max_scopes: int = 50_000,
    ) -> None:
        self.clock = clock
        self.window = Window(window, granularity)
        self.max_scopes = max_scopes
        self._scopes: dict[str, _Scope] = {}
        self._next_sweep = -math.inf

    async def acquire(self, limits: Sequence[Limit], tokens: int) -> Decision:
        return self.check(limits, tokens)

    def check(self, limits: Sequence[Limit], tokens: int) -> Decision:
        """``acquire()`` without the coroutine (the limiter never waits)."""
        now = self.clock()
        window = self.window
        bucket = math.floor(now / window.granularity)
        oldest = bucket - window.buckets
        if bucket >= self._next_sweep:
            self._sweep(oldest)
            self._next_sweep = bucket + window.buckets
        scopes = self._scopes
        if len(scopes) + len(limits) > self.max_scopes:
            self._make_room(oldest, len(limits))
        states: list[_Scope | None] = []
        denied = False
        for lim in limits:
            rpm, tpm = lim.rpm, lim.tpm
            if rpm is None and tpm is None:
                states.append(None)
                continue
            state = scopes.get(lim.scope)
            if state is None:
                state = scopes[lim.scope] = _Scope()
            else:
                state.expire(oldest)
            states.append(state)
            if (rpm is not None and state.requests >= rpm) or (
                tpm is not None and state.tokens + tokens > tpm
            ):
                denied = True
        if denied:
            return self._deny(limits, tokens, states, now)
        usage: list[Usage] = []
        for state in states:
            if state is None:
                usage.append((0, 0, -1))
            else:
                state.add(bucket, 1, tokens)
                usage.append((state.requests, state.tokens, bucket))
        return decide(limits, tokens, usage, now, window, charge=(self.name, bucket))

    def _deny(
        self, limits: Sequence[Limit], tokens: int, states: list[_Scope | None], now: float
    ) -> Decision:
        usage: list[Usage] = []
        denials: list[Denial] = []
        for index, (lim, state) in enumerate(zip(limits, states, strict=True)):
            if state is None:
                usage.append((0, 0, -1))
                continue
            usage.append((state.requests, state.tokens, state.entries[-3] if state.entries else -1))
            for dim, cap, cost, used in (
                (REQUESTS, lim.rpm, 1, state.requests),
                (TOKENS, lim.tpm, tokens, state.tokens),
            ):
                if cap is not None and used + cost > cap:
                    need = used + cost - cap
                    wait = None if cost > cap else state.wait(dim, need, self.window, now)
                    denials.append((index, dim, wait))
        return decide(limits, tokens, usage, now, self.window, denials)

    async def adjust(
        self, limits: Sequence[Limit], token_delta: int, decision: Decision | None = None
    ) -> None:
        """An extra charge goes to the current bucket (the tokens were produced up to
        now); a refund comes off the charged one."""
        if not token_delta:
            return
        charge = decision.charge if decision is not None else None
        charged = charge[1] if charge is not None and charge[0] == self.name else None
        bucket = math.floor(self.clock() / self.window.granularity)
        oldest = bucket - self.window.buckets
        if len(self._scopes) + len(limits) > self.max_scopes:
            self._make_room(oldest, len(limits))
        for lim in limits:
            if lim.rpm is None and lim.tpm is None:
                continue
            state = self._scopes.get(lim.scope)
            if state is None:
                if token_delta < 0:
                    continue
                state = self._scopes[lim.scope] = _Scope()
            state.expire(oldest)
            if token_delta > 0:
                state.add(bucket, 0, token_delta)
            else:
                state.refund(charged, -token_delta)

    def _make_room(self, oldest: int, needed: int) -> None:
        self._sweep(oldest)
        excess = len(self._scopes) + needed - self.max_scopes
        if excess > 0:
            self._evict(excess + self.max_scopes // 10)

    def _sweep(self, oldest: int) -> None:
        idle = [name for name, s in self._scopes.items() if not s.entries or s.entries[-3] < oldest]
        for name in idle:
            del self._scopes[name]

    def _evict(self, count: int) -> None:
        """Drop the ``count`` least recently charged scopes."""
        newest = {name: s.entries[-3] if s.entries else -1 for name, s in self._scopes.items()}
        for name in heapq.nsmallest(count, newest, key=newest.__getitem__):
            del self._scopes[name]

    def status(self) -> dict[str, Any]:
        scopes = len(self._scopes)
        return {"backend": self.name, "state": "healthy", "reason": None, "scopes": scopes}

    async def close(self) -> None:
        self._scopes.clear()

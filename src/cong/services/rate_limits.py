"""Rate limits: requests and tokens per minute per scope (``key:<id>``, ``user:<id>``, …).

A request is checked against several limits at once and charged atomically (one request
and its estimated tokens against every limit when all allow it, else nothing);
``adjust()`` corrects the token charge once the real usage is known.

Window: a *bucketed sliding window*. Time is cut into ``granularity``-second buckets (1 s);
a scope keeps one (requests, tokens) pair per non-empty bucket, and the count at time ``t``
sums the buckets overlapping ``(t - 60 s, t]``: a superset of an exact sliding log, so the
limit is never exceeded in any 60-second interval. The error is one-sided and bounded: a
unit stays counted 60 to 61 s, so a client waits at most one bucket (1 s) longer than with
an exact log, while memory per scope is at most 61 buckets whatever the rate. The Redis
backend (``rate_limits_redis``) does the same arithmetic on the server's clock.

Headers are OpenAI's ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` for the
tightest limit (least remaining) of each dimension; *reset* is the time until that limit
is back to its initial state (everything counted has left the window).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from cong.protocol.errors import APIError

REQUESTS, TOKENS = 1, 2  # offsets in a bucket triple; also "dimension" ids


@dataclass(frozen=True, slots=True)
class Limit:
    """Per-minute limits for one scope; ``None`` = unlimited in that dimension."""

    scope: str
    rpm: int | None = None
    tpm: int | None = None


@dataclass(slots=True)
class Decision:
    allowed: bool
    headers: dict[str, str]
    retry_after: float | None = None  # seconds until enough capacity frees; None: never
    limit_hit: str | None = None  # e.g. "key requests per minute"
    message: str | None = None  # OpenAI-style explanation of a denial
    charge: tuple[str, int] | None = None  # (backend, bucket) charged; for adjust()

    def error(self) -> APIError:
        """The 429 answer for a denial, with the rate-limit and ``retry-after`` headers;
        its type is the dimension that denied (``requests`` / ``tokens``), as OpenAI's."""
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after)))
            headers["retry-after-ms"] = str(max(1, math.ceil(self.retry_after * 1000)))
        kind = "tokens" if self.limit_hit and "tokens" in self.limit_hit else "requests"
        message = self.message or "Rate limit reached."
        return APIError(429, message, type=kind, code="rate_limit_exceeded", headers=headers)


class BackendUnavailable(Exception):
    """A shared backend (Redis) could not answer; the fallback wrapper takes over."""


class RateLimiter(Protocol):
    async def acquire(self, limits: Sequence[Limit], tokens: int) -> Decision: ...

    async def adjust(
        self, limits: Sequence[Limit], token_delta: int, decision: Decision | None = None
    ) -> None:
        """Add ``token_delta`` (negative: refund) to the token charge. With the acquire
        ``decision`` a refund comes off the bucket that was charged (exact); without it,
        off the newest buckets."""
        ...

    def status(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


def format_duration(seconds: float) -> str:
    """A duration as OpenAI writes it: ``120ms``, ``1s``, ``8.64s``, ``6m0s``, ``1h0m0s``."""
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    minutes, rest = divmod(ms, 60_000)
    whole, frac = divmod(rest, 1000)
    secs = f"{whole}.{frac:03d}".rstrip("0") if frac else str(whole)
    if not minutes:
        return f"{secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"


class Window:
    """Bucket arithmetic shared by the backends."""

    __slots__ = ("buckets", "granularity", "seconds")

    def __init__(self, seconds: float = 60.0, granularity: float = 1.0) -> None:
        buckets = round(seconds / granularity)
        if buckets < 1 or not math.isclose(buckets * granularity, seconds):
            raise ValueError("the window must be a whole number of buckets")
        self.seconds, self.granularity, self.buckets = seconds, granularity, buckets

    def expiry(self, bucket: int) -> float:
        """When a unit counted in ``bucket`` stops being counted."""
        return (bucket + self.buckets + 1) * self.granularity


# Per limit, after the charge when allowed: (requests used, tokens used, newest bucket | -1).
Usage = tuple[int, int, int]
# A denial: (limit index, dimension, seconds to wait or None when the request can never fit).
Denial = tuple[int, int, float | None]


@lru_cache(maxsize=8192)
def _format_ms(ms: int) -> str:
    return format_duration(ms / 1000)


def _reset(window: Window, newest: int, now: float) -> str:
    """Time until everything counted (up to bucket ``newest``) has left the window."""
    ms = int(((newest + window.buckets + 1) * window.granularity - now) * 1000 + 0.5)
    return _format_ms(ms) if newest >= 0 and ms > 0 else "0s"


def decide(
    limits: Sequence[Limit],
    tokens: int,
    usage: Sequence[Usage],
    now: float,
    window: Window,
    denials: Sequence[Denial] = (),
    charge: tuple[str, int] | None = None,
) -> Decision:
    """The decision and its headers from each limit's usage (shared by the backends)."""
    rq_left = tk_left = None  # the tightest limit of each dimension: remaining, limit, newest
    rq_cap = tk_cap = rq_new = tk_new = 0
    for lim, (requests, toks, newest) in zip(limits, usage, strict=True):
        cap = lim.rpm
        if cap is not None:
            left = cap - requests
            if rq_left is None or left < rq_left or (left == rq_left and cap < rq_cap):
                rq_left, rq_cap, rq_new = left, cap, newest
        cap = lim.tpm
        if cap is not None:
            left = cap - toks
            if tk_left is None or left < tk_left or (left == tk_left and cap < tk_cap):
                tk_left, tk_cap, tk_new = left, cap, newest
    headers: dict[str, str] = {}
    reset = ""
    if rq_left is not None:
        headers["x-ratelimit-limit-requests"] = str(rq_cap)
        headers["x-ratelimit-remaining-requests"] = str(rq_left) if rq_left > 0 else "0"
        headers["x-ratelimit-reset-requests"] = reset = _reset(window, rq_new, now)
    if tk_left is not None:
        headers["x-ratelimit-limit-tokens"] = str(tk_cap)
        headers["x-ratelimit-remaining-tokens"] = str(tk_left) if tk_left > 0 else "0"
        same = reset and tk_new == rq_new  # usually: both were charged in this bucket
        headers["x-ratelimit-reset-tokens"] = reset if same else _reset(window, tk_new, now)
    if not denials:
        return Decision(True, headers, None, None, None, charge)
    # The binding denial: one that can never fit, else the longest wait.
    index, dim, wait = max(denials, key=lambda d: math.inf if d[2] is None else d[2])
    lim = limits[index]
    kind, unit = lim.scope.partition(":")[0], "requests" if dim == REQUESTS else "tokens"
    cap = lim.rpm if dim == REQUESTS else lim.tpm
    requested = 1 if dim == REQUESTS else tokens
    on = f"{kind} on {unit} per min ({'RPM' if dim == REQUESTS else 'TPM'}): Limit {cap}"
    if wait is None:
        message = f"Rate limit reached for {on}, Requested {requested}."
        if dim == TOKENS:
            message = (
                f"Request too large for {on}, Requested {requested}. The input or "
                "output tokens must be reduced in order to run successfully."
            )
    else:
        message = (
            f"Rate limit reached for {on}, Used {usage[index][dim - 1]}, Requested "
            f"{requested}. Please try again in {format_duration(wait)}."
        )
    return Decision(False, headers, wait, f"{kind} {unit} per minute", message)


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


def build_rate_limiter(redis_url: str | None, *, timeout: float = 0.25) -> RateLimiter:
    """The in-process limiter, or Redis (shared by every gateway process) with the
    in-process one as its fallback when a Redis URL is configured."""
    if not redis_url:
        return MemoryRateLimiter()
    from cong.services.rate_limits_redis import FallbackRateLimiter, RedisRateLimiter

    return FallbackRateLimiter(RedisRateLimiter(redis_url, timeout=timeout), MemoryRateLimiter())

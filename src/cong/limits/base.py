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

import math
from collections.abc import Sequence
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

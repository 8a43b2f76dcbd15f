"""The in-process rate limiter: window semantics, atomic multi-limit charges, refunds,
OpenAI headers and retry-after, with an injected clock."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cong.limits.base import Limit, format_duration
from cong.limits.factory import build_rate_limiter
from cong.limits.memory import MemoryRateLimiter

T0 = 1000.0  # bucket 1000 starts here (1 s buckets)


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock | None = None, *, max_scopes: int = 50_000) -> MemoryRateLimiter:
    return MemoryRateLimiter(clock=clock or Clock(), max_scopes=max_scopes)


async def test_rpm_is_exact_at_the_boundary() -> None:
    rl = limiter()
    key = [Limit("key:k1", rpm=3, tpm=None)]
    remaining = []
    for _ in range(3):
        decision = await rl.acquire(key, 0)
        assert decision.allowed
        remaining.append(decision.headers["x-ratelimit-remaining-requests"])
    assert remaining == ["2", "1", "0"]
    denied = await rl.acquire(key, 0)
    assert not denied.allowed
    assert denied.limit_hit == "key requests per minute"
    assert denied.headers["x-ratelimit-remaining-requests"] == "0"
    assert "x-ratelimit-limit-tokens" not in denied.headers


async def test_tpm_counts_tokens() -> None:
    rl = limiter()
    key = [Limit("key:k1", rpm=None, tpm=1000)]
    assert (await rl.acquire(key, 400)).allowed
    assert (await rl.acquire(key, 400)).allowed
    denied = await rl.acquire(key, 400)
    assert not denied.allowed and denied.limit_hit == "key tokens per minute"
    assert denied.headers["x-ratelimit-remaining-tokens"] == "200"
    exact = await rl.acquire(key, 200)
    assert exact.allowed and exact.headers["x-ratelimit-remaining-tokens"] == "0"
    assert not (await rl.acquire(key, 1)).allowed
    assert (await rl.acquire(key, 0)).allowed  # no tokens needed, requests are unlimited


async def test_a_denial_charges_no_limit() -> None:
    rl = limiter()
    key, user = Limit("key:k1", rpm=5, tpm=None), Limit("user:u1", rpm=2, tpm=None)
    assert (await rl.acquire([key, user], 0)).allowed
    assert (await rl.acquire([key, user], 0)).allowed
    denied = await rl.acquire([key, user], 0)
    assert not denied.allowed and denied.limit_hit == "user requests per minute"
    # The key was charged twice, not three times: three more fit, then no more.
    assert [(await rl.acquire([key], 0)).allowed for _ in range(4)] == [True] * 3 + [False]
    # Denied by the key: the user is not charged either.
    other = Limit("user:u2", rpm=10, tpm=None)
    assert not (await rl.acquire([key, other], 0)).allowed
    decision = await rl.acquire([other], 0)
    assert decision.headers["x-ratelimit-remaining-requests"] == "9"


async def test_tokens_and_requests_are_charged_together() -> None:
    rl = limiter()
    limits = [Limit("key:k", rpm=10, tpm=100), Limit("user:u", rpm=100, tpm=50)]
    assert (await rl.acquire(limits, 40)).allowed
    denied = await rl.acquire(limits, 20)  # the user's 50 tpm says no; the key's 100 would fit
    assert not denied.allowed and denied.limit_hit == "user tokens per minute"
    decision = await rl.acquire([limits[0]], 0)
    assert decision.headers["x-ratelimit-remaining-tokens"] == "60"
    assert decision.headers["x-ratelimit-remaining-requests"] == "8"


async def test_adjust_refunds_and_charges_tokens() -> None:
    clock = Clock()
    rl = limiter(clock)
    key = [Limit("key:k", rpm=None, tpm=1000)]
    estimate = await rl.acquire(key, 900)
    assert not (await rl.acquire(key, 200)).allowed
    await rl.adjust(key, -800, estimate)  # the request used 100 tokens, not 900
    assert (await rl.acquire(key, 900)).allowed  # 100 + 900
    assert not (await rl.acquire(key, 1)).allowed
    await rl.adjust(key, -500)  # without the decision: off the newest buckets
    decision = await rl.acquire(key, 0)
    assert decision.headers["x-ratelimit-remaining-tokens"] == "500"
    await rl.adjust(key, 300)  # more than estimated: charged now
    decision = await rl.acquire(key, 0)
    assert decision.headers["x-ratelimit-remaining-tokens"] == "200"
    await rl.adjust(key, -(10**9))  # refunds never go below zero
    decision = await rl.acquire(key, 0)
    assert decision.headers["x-ratelimit-remaining-tokens"] == "1000"


async def test_a_refund_after_the_charge_expired_touches_nothing_newer() -> None:
    clock = Clock()
    rl = limiter(clock)
    key = [Limit("key:k", rpm=None, tpm=1000)]
    old = await rl.acquire(key, 500)
    clock.now += 61
    assert (await rl.acquire(key, 500)).allowed
    await rl.adjust(key, -500, old)  # that charge has already left the window
    decision = await rl.acquire(key, 0)
    assert decision.headers["x-ratelimit-remaining-tokens"] == "500"


async def test_the_window_slides() -> None:
    clock = Clock(T0 + 0.2)
    rl = limiter(clock)
    key = [Limit("key:k", rpm=2, tpm=None)]
    assert (await rl.acquire(key, 0)).allowed  # bucket 1000
    clock.now = T0 + 30.5
    assert (await rl.acquire(key, 0)).allowed  # bucket 1030
    clock.now = T0 + 45
    denied = await rl.acquire(key, 0)
    assert not denied.allowed
    assert denied.retry_after == 16.0  # bucket 1000 is counted until 1061 (60-61 s)
    clock.now = T0 + 60.9
    assert not (await rl.acquire(key, 0)).allowed
    clock.now = T0 + 61.0
    assert (await rl.acquire(key, 0)).allowed  # the first request left the window
    assert not (await rl.acquire(key, 0)).allowed
    clock.now = T0 + 91.0
    assert (await rl.acquire(key, 0)).allowed  # the second left at 1091
    clock.now = T0 + 500
    decision = await rl.acquire(key, 0)
    assert decision.allowed and decision.headers["x-ratelimit-remaining-requests"] == "1"


async def test_retry_after_is_when_enough_capacity_frees() -> None:
    clock = Clock()
    rl = limiter(clock)
    key = [Limit("key:k", rpm=None, tpm=1000)]
    for offset in (0, 10, 20):
        clock.now = T0 + offset
        assert (await rl.acquire(key, 300)).allowed
    clock.now = T0 + 30
    denied = await rl.acquire(key, 500)  # 400 must free: the buckets of t=0 and t=10
    assert not denied.allowed and denied.retry_after == 41.0
    assert denied.message == (
        "Rate limit reached for key on tokens per min (TPM): Limit "
        "1000, Used 900, Requested 500. Please try again in 41s."
    )
    error = denied.error()
    assert error.status == 429 and error.type == "tokens" and error.code == "rate_limit_exceeded"
    assert error.headers["retry-after"] == "41" and error.headers["retry-after-ms"] == "41000"
    assert error.headers["x-ratelimit-remaining-tokens"] == "100"
    clock.now = T0 + 70.99
    assert not (await rl.acquire(key, 500)).allowed
    clock.now = T0 + 71
    assert (await rl.acquire(key, 500)).allowed


async def test_retry_after_header_is_at_least_one_second() -> None:
    clock = Clock(T0 + 0.95)
    rl = limiter(clock)
    key = [Limit("key:k", rpm=1, tpm=None)]
    await rl.acquire(key, 0)
    clock.now = T0 + 60.7
    denied = await rl.acquire(key, 0)
    assert denied.retry_after is not None and abs(denied.retry_after - 0.3) < 1e-9
    assert denied.error().headers["retry-after"] == "1"
    assert denied.error().headers["retry-after-ms"] == "300"
    assert "try again in 300ms" in (denied.message or "")


async def test_a_request_larger_than_the_limit_can_never_pass() -> None:
    rl = limiter()
    denied = await rl.acquire([Limit("key:k", rpm=10, tpm=1000)], 1500)
    assert not denied.allowed and denied.retry_after is None
    assert (denied.message or "").startswith("Request too large for key on tokens per min")
    assert "retry-after" not in denied.error().headers
    blocked = await rl.acquire([Limit("user:u", rpm=0, tpm=None)], 1)
    assert not blocked.allowed and blocked.retry_after is None
    assert blocked.limit_hit == "user requests per minute"


async def test_headers_follow_openai() -> None:
    clock = Clock(T0 + 0.2)
    rl = limiter(clock)
    limits = [
        Limit("key:k", rpm=60, tpm=10_000),
        Limit("user:u", rpm=5, tpm=None),
        Limit("group:g", rpm=None, tpm=None),
    ]
    decision = await rl.acquire(limits, 1234)
    assert decision.allowed
    assert decision.headers == {
        "x-ratelimit-limit-requests": "5",  # the user's limit leaves the least
        "x-ratelimit-remaining-requests": "4",
        "x-ratelimit-reset-requests": "1m0.8s",  # the charge leaves the window at 1061
        "x-ratelimit-limit-tokens": "10000",
        "x-ratelimit-remaining-tokens": "8766",
        "x-ratelimit-reset-tokens": "1m0.8s",
    }
    unlimited = await rl.acquire([Limit("group:g", rpm=None, tpm=None)], 10**9)
    assert unlimited.allowed and unlimited.headers == {}
    assert (await rl.acquire([], 5)).allowed


def test_durations_are_written_like_openai() -> None:
    cases = {
        0: "0s",
        0.0004: "0s",
        0.12: "120ms",
        0.999: "999ms",
        1: "1s",
        8.64: "8.64s",
        59.5: "59.5s",
        60: "1m0s",
        60.8: "1m0.8s",
        360: "6m0s",
        3600: "1h0m0s",
        3725.25: "1h2m5.25s",
    }
    assert {seconds: format_duration(seconds) for seconds in cases} == cases


async def test_idle_scopes_are_dropped_and_memory_is_bounded() -> None:
    clock = Clock()
    rl = limiter(clock, max_scopes=100)
    for i in range(250):
        assert (await rl.acquire([Limit(f"key:{i}", rpm=1, tpm=None)], 0)).allowed
    assert rl.status()["scopes"] <= 100
    assert not (await rl.acquire([Limit("key:249", rpm=1, tpm=None)], 0)).allowed
    clock.now += 62
    await rl.acquire([Limit("key:new", rpm=1, tpm=None)], 0)
    assert rl.status() == {"backend": "memory", "state": "healthy", "reason": None, "scopes": 1}


async def test_the_factory_without_redis_is_in_process() -> None:
    rl = build_rate_limiter(None)
    assert isinstance(rl, MemoryRateLimiter) and rl.status()["backend"] == "memory"
    await rl.close()


arrivals = st.lists(st.floats(min_value=0, max_value=300, allow_nan=False), max_size=120)


def _max_in_window(times: list[float], weights: list[int], span: float = 60.0) -> int:
    """The largest total weight in any half-open interval [s, s + span)."""
    best, start, total = 0, 0, 0
    for end, t in enumerate(times):
        total += weights[end]
        while times[start] <= t - span:
            total -= weights[start]
            start += 1
        best = max(best, total)
    return best


@settings(max_examples=300, deadline=None)
@given(rpm=st.integers(min_value=1, max_value=8), times=arrivals)
def test_never_more_than_rpm_in_any_window(rpm: int, times: list[float]) -> None:
    clock = Clock()
    rl = limiter(clock)
    key = [Limit("key:k", rpm=rpm, tpm=None)]
    allowed: list[float] = []
    for t in sorted(times):
        clock.now = T0 + t
        decision = rl.check(key, 0)
        if decision.allowed:
            allowed.append(t)
        else:  # denied only when the limit is really reached, counting 61 s at most
            recent = [a for a in allowed if a > t - 61]
            assert len(recent) >= rpm
            assert decision.retry_after is not None and 0 < decision.retry_after <= 61
    assert _max_in_window(allowed, [1] * len(allowed)) <= rpm


@settings(max_examples=200, deadline=None)
@given(
    tpm=st.integers(min_value=1, max_value=1000),
    requests=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=200, allow_nan=False),
            st.integers(min_value=0, max_value=600),
        ),
        max_size=80,
    ),
)
def test_never_more_than_tpm_in_any_window(tpm: int, requests: list[tuple[float, int]]) -> None:
    clock = Clock()
    rl = limiter(clock)
    key = [Limit("key:k", rpm=None, tpm=tpm)]
    times: list[float] = []
    tokens: list[int] = []
    for t, cost in sorted(requests):
        clock.now = T0 + t
        if rl.check(key, cost).allowed:
            times.append(t)
            tokens.append(cost)
    assert _max_in_window(times, tokens) <= tpm

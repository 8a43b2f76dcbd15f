"""The Redis rate limiter against a real, throw-away redis-server, and the fallback to
per-process limits when Redis goes away."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from cong.limits.base import Limit
from cong.limits.factory import build_rate_limiter
from cong.limits.memory import MemoryRateLimiter
from cong.limits.redis_limiter import FallbackRateLimiter, RedisRateLimiter
from tests.support.redis_server import RedisServer

_prefixes = itertools.count()
TIMEOUT = 2.0  # seconds per Redis step in the tests of exactness


def _server() -> RedisServer:
    try:
        server = RedisServer()
        server.start()
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            raise
        pytest.skip(f"redis-server unavailable ({exc}); run scripts/ensure-redis.sh")
    return server


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    server = _server()
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server of the test's own, to stop and restart."""
    server = _server()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
async def redis_limiter(redis_url: str) -> AsyncIterator[RedisRateLimiter]:
    # What these tests check is exactness, not speed: a busy test machine must not turn
    # a slow round trip into the fallback (the fallback has its own tests below).
    rl = RedisRateLimiter(redis_url, prefix=f"test{next(_prefixes)}:", timeout=TIMEOUT)
    try:
        yield rl
    finally:
        await rl.close()


async def test_limits_hold_across_processes(redis_url: str) -> None:
    """Two limiters (two gateway processes, two connection pools), 50 concurrent
    acquires against rpm 10: exactly 10 pass."""
    prefix = f"test{next(_prefixes)}:"
    first, second = (RedisRateLimiter(redis_url, prefix=prefix, timeout=TIMEOUT) for _ in range(2))
    key = [Limit("key:shared", rpm=10, tpm=None)]
    try:
        decisions = await asyncio.gather(
            *(rl.acquire(key, 0) for _ in range(25) for rl in (first, second))
        )
    finally:
        await first.close()
        await second.close()
    assert sum(d.allowed for d in decisions) == 10
    remaining = sorted(
        int(d.headers["x-ratelimit-remaining-requests"]) for d in decisions if d.allowed
    )
    assert remaining == list(range(10))
    denied = [d for d in decisions if not d.allowed]
    assert all(d.retry_after is not None and 59 < d.retry_after <= 61 for d in denied)


async def test_tokens_headers_and_atomic_denial(redis_limiter: RedisRateLimiter) -> None:
    key, user = Limit("key:k", rpm=10, tpm=1000), Limit("user:u", rpm=100, tpm=500)
    first = await redis_limiter.acquire([key, user], 300)
    assert first.allowed and first.charge is not None and first.charge[0] == "redis"
    assert first.headers["x-ratelimit-limit-requests"] == "10"
    assert first.headers["x-ratelimit-remaining-requests"] == "9"
    assert first.headers["x-ratelimit-limit-tokens"] == "500"
    assert first.headers["x-ratelimit-remaining-tokens"] == "200"
    assert first.headers["x-ratelimit-reset-tokens"].startswith("1m0")
    denied = await redis_limiter.acquire([key, user], 300)
    assert not denied.allowed and denied.limit_hit == "user tokens per minute"
    assert denied.retry_after is not None and 59 < denied.retry_after <= 61
    assert denied.message is not None and "Limit 500, Used 300, Requested 300" in denied.message
    # The denial charged neither limit.
    alone = await redis_limiter.acquire([key], 700)
    assert alone.allowed and alone.headers["x-ratelimit-remaining-tokens"] == "0"
    assert alone.headers["x-ratelimit-remaining-requests"] == "8"
    too_large = await redis_limiter.acquire([key], 5000)
    assert not too_large.allowed and too_large.retry_after is None


async def test_adjust_in_redis(redis_limiter: RedisRateLimiter) -> None:
    key = [Limit("key:k", rpm=None, tpm=1000)]
    estimate = await redis_limiter.acquire(key, 900)
    await redis_limiter.adjust(key, -850, estimate)
    assert (await redis_limiter.acquire(key, 950)).allowed
    await redis_limiter.adjust(key, -100)  # off the newest buckets
    await redis_limiter.adjust(key, 30)
    decision = await redis_limiter.acquire(key, 0)
    assert decision.headers["x-ratelimit-remaining-tokens"] == "70"
    await redis_limiter.adjust(key, -(10**6), estimate)  # never below zero
    decision = await redis_limiter.acquire(key, 0)
    assert decision.headers["x-ratelimit-remaining-tokens"] == "1000"  # one bucket


async def test_the_redis_window_slides(redis_url: str) -> None:
    rl = RedisRateLimiter(
        redis_url, prefix=f"test{next(_prefixes)}:", window=1.0, granularity=0.1, timeout=TIMEOUT
    )
    key = [Limit("key:k", rpm=2, tpm=10**13)]
    try:
        assert (await rl.acquire(key, 10**12)).allowed
        await asyncio.sleep(0.5)
        assert (await rl.acquire(key, 10**12)).allowed
        denied = await rl.acquire(key, 10**12)
        assert not denied.allowed and denied.retry_after is not None
        assert 0 < denied.retry_after <= 0.6  # the first charge leaves 1-1.1 s after it
        await asyncio.sleep(denied.retry_after + 0.01)
        again = await rl.acquire(key, 10**12)  # the first bucket is dropped from the hash
        assert again.allowed
        assert again.headers["x-ratelimit-remaining-requests"] == "0"
        assert again.headers["x-ratelimit-remaining-tokens"] == str(10**13 - 2 * 10**12)
        await asyncio.sleep(1.2)
        assert (await rl.acquire(key, 0)).headers["x-ratelimit-remaining-requests"] == "1"
    finally:
        await rl.close()


async def test_fallback_when_redis_goes_away_and_comes_back(
    own_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    rl = FallbackRateLimiter(
        RedisRateLimiter(own_server.url, timeout=0.2),
        MemoryRateLimiter(),
        backoff=0.05,
        max_backoff=0.2,
    )
    key = [Limit("key:k", rpm=3, tpm=None)]
    try:
        first = await rl.acquire(key, 0)
        assert first.allowed and first.charge is not None and first.charge[0] == "redis"
        assert rl.status()["state"] == "healthy"

        own_server.stop(kill=True)
        with caplog.at_level(logging.INFO, logger="cong.ratelimit"):
            decisions = [await rl.acquire(key, 0) for _ in range(6)]
            status = rl.status()
            assert status["backend"] == "redis" and status["state"] == "degraded"
            assert "redis" in status["reason"] and status["fallback"] == "memory"
            # Limited locally, never unlimited.
            assert [d.allowed for d in decisions] == [True] * 3 + [False] * 3
            assert all(d.charge is None or d.charge[0] == "memory" for d in decisions)
            await rl.adjust(key, 10, decisions[0])  # a local charge: adjusted locally
            await asyncio.sleep(0.3)  # probes keep failing: still one warning
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()

            own_server.start()
            for _ in range(100):
                if rl.status()["state"] == "healthy":
                    break
                await asyncio.sleep(0.05)
            assert rl.status() == {
                "backend": "redis",
                "state": "healthy",
                "reason": None,
                "fallback": "memory",
            }
            assert any("answers again" in r.getMessage() for r in caplog.records)
        back = await rl.acquire(key, 0)
        assert back.allowed and back.charge is not None and back.charge[0] == "redis"
        await rl.adjust(key, -1, back)
    finally:
        await rl.close()


async def test_unreachable_redis_from_the_start_is_limited_locally() -> None:
    rl = build_rate_limiter("redis://127.0.0.1:1/0", timeout=0.2)
    assert isinstance(rl, FallbackRateLimiter)
    key = [Limit("key:k", rpm=1, tpm=None)]
    try:
        assert (await rl.acquire(key, 0)).allowed
        assert not (await rl.acquire(key, 0)).allowed
        assert rl.status()["state"] == "degraded"
    finally:
        await rl.close()

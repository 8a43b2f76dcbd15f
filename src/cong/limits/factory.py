"""Which rate limiter a process uses: in-process, or Redis with in-process fallback."""

from __future__ import annotations

from cong.limits.base import RateLimiter
from cong.limits.memory import MemoryRateLimiter


def build_rate_limiter(redis_url: str | None, *, timeout: float = 0.25) -> RateLimiter:
    """The in-process limiter, or Redis (shared by every gateway process) with the
    in-process one as its fallback when a Redis URL is configured."""
    if not redis_url:
        return MemoryRateLimiter()
    from cong.limits.redis_limiter import FallbackRateLimiter, RedisRateLimiter

    return FallbackRateLimiter(RedisRateLimiter(redis_url, timeout=timeout), MemoryRateLimiter())

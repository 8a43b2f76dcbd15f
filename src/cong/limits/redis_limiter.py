"""Rate limits shared by every gateway process through Redis, and the fallback wrapper.

One Lua script checks and charges all of a request's limits atomically on the Redis
server, with the server's clock (``TIME``), so the limits hold across processes and hosts.
Each scope is one hash ``<prefix><scope>`` with the same buckets as the in-process backend
(see ``rate_limits``): fields ``r<bucket>`` / ``t<bucket>`` (requests / tokens), the running
totals ``R`` / ``T``, the oldest live bucket ``L`` and the newest charged ``N``; the key
expires one window after its last charge. A standalone Redis (or a Sentinel primary) is
assumed: the keys of one request need not share a cluster slot.

``FallbackRateLimiter`` keeps requests limited when Redis fails: the request that meets
the error and every later one use the per-process limiter (each process then enforces
the full limit on its own), the status says *degraded* and why, and a background probe
pings Redis with exponential back-off until it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from cong.limits.base import (
    BackendUnavailable,
    Decision,
    Denial,
    Limit,
    RateLimiter,
    Usage,
    Window,
    decide,
)

log = logging.getLogger("cong.ratelimit")

# Drop the buckets older than `oldest` from a scope's hash; returns requests, tokens and
# the newest charged bucket (-1 when the scope is empty). At most one window of buckets
# can be pending, so the work is bounded.
_ADVANCE = """
local g, n, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cur = math.floor(now_us / 1000 / g)
local oldest = cur - n

local function advance(key)
  local h = redis.call('HMGET', key, 'L', 'N', 'R', 'T')
  local tail, newest = tonumber(h[1]), tonumber(h[2])
  if not tail or not newest then return 0, 0, -1 end
  local r, k = tonumber(h[3]) or 0, tonumber(h[4]) or 0
  if tail >= oldest then return r, k, newest end
  if newest < oldest then
    redis.call('DEL', key)
    return 0, 0, -1
  end
  local f = {}
  for b = tail, oldest - 1 do
    f[#f + 1] = 'r' .. b
    f[#f + 1] = 't' .. b
  end
  local v = redis.call('HMGET', key, unpack(f))
  for j = 1, #v, 2 do
    r = r - (tonumber(v[j]) or 0)
    k = k - (tonumber(v[j + 1]) or 0)
  end
  redis.call('HDEL', key, unpack(f))
  redis.call('HSET', key, 'L', oldest, 'R', r, 'T', k)
  return r, k, newest
end

local function charge(key, requests, tokens)
  redis.call('HINCRBY', key, 'r' .. cur, requests)
  redis.call('HINCRBY', key, 't' .. cur, tokens)
  redis.call('HINCRBY', key, 'R', requests)
  redis.call('HINCRBY', key, 'T', tokens)
  redis.call('HSET', key, 'N', cur)
  redis.call('HSETNX', key, 'L', cur)
  redis.call('PEXPIRE', key, ttl)
end
"""

# ARGV: granularity (ms), buckets, ttl (ms), tokens, then rpm and tpm per key (-1: none).
# Returns {allowed, now (µs), bucket, #denials, (limit, dim, wait µs | -1)…, (r, t, newest)…}.
_ACQUIRE = (
    _ADVANCE
    + """
local cost = tonumber(ARGV[4])
local used, deny = {}, {}
for i = 1, #KEYS do
  local r, k, newest = advance(KEYS[i])
  used[i] = {r, k, newest}
  local rpm, tpm = tonumber(ARGV[3 + 2 * i]), tonumber(ARGV[4 + 2 * i])
  if rpm >= 0 and r + 1 > rpm then deny[#deny + 1] = {i, 1, r + 1 - rpm, 1 > rpm} end
  if tpm >= 0 and k + cost > tpm then deny[#deny + 1] = {i, 2, k + cost - tpm, cost > tpm} end
end
local out = {0, now_us, cur, #deny}
if #deny == 0 then
  out[1] = 1
  for i = 1, #KEYS do
    charge(KEYS[i], 1, ARGV[4])
    used[i] = {used[i][1] + 1, used[i][2] + cost, cur}
  end
end
for _, d in ipairs(deny) do
  local wait = -1
  if not d[4] then
    local f, prefix = {}, (d[2] == 1) and 'r' or 't'
    for b = oldest, cur do f[#f + 1] = prefix .. b end
    local v, freed = redis.call('HMGET', KEYS[d[1]], unpack(f)), 0
    for j = 1, #v do
      freed = freed + (tonumber(v[j]) or 0)
      if freed >= d[3] then
        wait = math.max(0, (oldest + j + n) * g * 1000 - now_us)
        break
      end
    end
  end
  out[#out + 1], out[#out + 2], out[#out + 3] = d[1] - 1, d[2], wait
end
for i = 1, #KEYS do
  out[#out + 1], out[#out + 2], out[#out + 3] = used[i][1], used[i][2], used[i][3]
end
return out
"""
)

# ARGV: granularity (ms), buckets, ttl (ms), token delta, charged bucket (-1: unknown).
# An extra charge goes to the current bucket; a refund comes off the charged bucket
# (unknown: the newest ones first), never below zero.
_ADJUST = (
    _ADVANCE
    + """
local delta, charged = tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 1, #KEYS do
  local key = KEYS[i]
  local _, _, newest = advance(key)
  if delta > 0 then
    charge(key, 0, ARGV[4])
  elseif newest >= 0 then
    local left, b = -delta, newest
    if charged >= 0 then b = charged end
    while left > 0 and b >= oldest do
      local have = tonumber(redis.call('HGET', key, 't' .. b)) or 0
      local take = math.min(have, left)
      if take > 0 then
        redis.call('HINCRBY', key, 't' .. b, -take)
        redis.call('HINCRBY', key, 'T', -take)
        left = left - take
      end
      if charged >= 0 then break end
      b = b - 1
    end
  end
end
return 1
"""
)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:300]


class RedisRateLimiter:
    """Limits shared through Redis: one round trip (``EVALSHA``) per check."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "cong:rl:",
        timeout: float = 0.25,
        max_connections: int = 32,
        pool_timeout: float = 2.0,
        window: float = 60.0,
        granularity: float = 1.0,
    ) -> None:
        self.window = Window(window, granularity)
        self.prefix = prefix
        self.timeout = timeout
        # Waiting for a pooled connection is local congestion (a burst of requests in this
        # process), not a Redis failure: it gets a longer budget than a Redis round trip.
        self._deadline = pool_timeout + 3 * timeout
        self._static = [
            round(granularity * 1000),
            self.window.buckets,
            round((window + 2 * granularity) * 1000),
        ]
        # Fail fast, never retry inside the client: the fallback wrapper decides.
        self._pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._client = Redis(connection_pool=self._pool)
        self._acquire = self._client.register_script(_ACQUIRE)
        self._adjust = self._client.register_script(_ADJUST)
        self._error: str | None = None

    async def _call(self, coro: Any) -> Any:
        try:
            # Each step has its own timeout; this bounds the whole (pool wait, connect,
            # EVALSHA and a script reload after a Redis restart).
            async with asyncio.timeout(self._deadline):
                result = await coro
        except (RedisError, OSError, TimeoutError) as exc:
            self._error = _describe(exc)
            raise BackendUnavailable(f"redis: {self._error}") from exc
        self._error = None
        return result

    async def acquire(self, limits: Sequence[Limit], tokens: int) -> Decision:
        active = [lim for lim in limits if lim.rpm is not None or lim.tpm is not None]
        if not active:
            return Decision(True, {})
        args: list[int] = [*self._static, tokens]
        for lim in active:
            args += (-1 if lim.rpm is None else lim.rpm, -1 if lim.tpm is None else lim.tpm)
        keys = [self.prefix + lim.scope for lim in active]
        reply = await self._call(self._acquire(keys=keys, args=args))
        allowed, now_us, bucket, count = (int(x) for x in reply[:4])
        now = now_us / 1e6
        denials: list[Denial] = []
        for i in range(4, 4 + 3 * count, 3):
            wait = int(reply[i + 2])
            denials.append((int(reply[i]), int(reply[i + 1]), None if wait < 0 else wait / 1e6))
        rest = reply[4 + 3 * count :]
        usage: list[Usage] = [
            (int(rest[i]), int(rest[i + 1]), int(rest[i + 2])) for i in range(0, len(rest), 3)
        ]
        charge = (self.name, bucket) if allowed else None
        return decide(active, tokens, usage, now, self.window, denials, charge)

    async def adjust(
        self, limits: Sequence[Limit], token_delta: int, decision: Decision | None = None
    ) -> None:
        keys = [
            self.prefix + lim.scope for lim in limits if lim.rpm is not None or lim.tpm is not None
        ]
        if not token_delta or not keys:
            return
        charge = decision.charge if decision is not None else None
        charged = charge[1] if charge is not None and charge[0] == self.name else -1
        await self._call(self._adjust(keys=keys, args=[*self._static, token_delta, charged]))

    async def ping(self) -> None:
        await self._call(self._client.ping())

    def status(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "state": "degraded" if self._error else "healthy",
            "reason": self._error,
        }

    async def close(self) -> None:
        await self._client.aclose()
        await self._pool.aclose()


class PingableLimiter(RateLimiter, Protocol):
    name: str

    async def ping(self) -> None: ...


class FallbackRateLimiter:
    """``primary`` (Redis) while it answers, else ``fallback`` (per process) — never
    unlimited. Back to the primary as soon as a background ping succeeds."""

    def __init__(
        self,
        primary: PingableLimiter,
        fallback: RateLimiter,
        *,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._reason: str | None = None
        self._since: float | None = None
        self._next_probe: float | None = None
        self._probe: asyncio.Task[None] | None = None

    @property
    def degraded(self) -> bool:
        return self._reason is not None

    async def acquire(self, limits: Sequence[Limit], tokens: int) -> Decision:
        if self._reason is None:
            try:
                return await self.primary.acquire(limits, tokens)
            except BackendUnavailable as exc:
                self._degrade(str(exc))
        return await self.fallback.acquire(limits, tokens)

    async def adjust(
        self, limits: Sequence[Limit], token_delta: int, decision: Decision | None = None
    ) -> None:
        charge = decision.charge if decision is not None else None
        on_primary = charge[0] == self.primary.name if charge else self._reason is None
        if not on_primary:
            await self.fallback.adjust(limits, token_delta, decision)
            return
        if self._reason is None:
            try:
                await self.primary.adjust(limits, token_delta, decision)
                return
            except BackendUnavailable as exc:
                self._degrade(str(exc))
        if token_delta > 0:  # the primary lost it: keep the extra usage counted locally
            await self.fallback.adjust(limits, token_delta)

    def _degrade(self, reason: str) -> None:
        if self._reason is not None:
            return
        self._reason, self._since = reason, time.time()
        log.warning(
            "rate limits: %s unavailable (%s); using per-process limits until it answers again",
            self.primary.name,
            reason,
        )
        self._probe = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        delay = self.backoff
        while True:
            self._next_probe = time.time() + delay
            await asyncio.sleep(delay)
            try:
                await self.primary.ping()
            except BackendUnavailable as exc:
                self._reason = str(exc)
                delay = min(delay * 2, self.max_backoff)
                continue
            break
        down = time.time() - (self._since or time.time())
        self._reason = self._since = self._next_probe = None
        self._probe = None
        log.info(
            "rate limits: %s answers again after %.1fs; limits are shared again",
            self.primary.name,
            down,
        )

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "backend": self.primary.name,
            "state": "degraded" if self._reason else "healthy",
            "reason": self._reason,
            "fallback": self.fallback.status()["backend"],
        }
        if self._reason is not None:
            status["degraded_since"] = self._since
            if self._next_probe is not None:
                status["next_retry_in"] = round(max(0.0, self._next_probe - time.time()), 2)
        return status

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        await self.primary.close()
        await self.fallback.close()

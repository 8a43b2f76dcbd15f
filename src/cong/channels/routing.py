"""Channel selection and retries.

Highest priority tier first, weighted random order inside a tier; channels whose circuit
is open are skipped. Retryable failures (429, 5xx, connection errors, first-byte
timeouts) are retried with exponential backoff and full jitter, on the same channel up to
``retries_per_channel`` times, then on the next channel; never more than ``max_attempts``
upstream calls per request. Other 4xx answers go straight back to the client, except a
rejected channel credential, which cools that channel and moves on. Callers only hand
work here that has not sent a byte to the client (streams are opened up to their first
chunk inside the attempt).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from cong.channels.catalog import ModelRoute
from cong.channels.health import ChannelHealth
from cong.protocol.errors import CREDENTIALS_REJECTED, APIError, upstream_unavailable
from cong.settings import RoutingSettings

T = TypeVar("T")
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


def weighted_order(routes: list[ModelRoute], rng: random.Random) -> list[ModelRoute]:
    """Priority tiers (high first); inside a tier a weighted random permutation
    (Efraimidis-Spirakis), so the first pick is route *i* with probability w_i / Σw."""

    def key(route: ModelRoute) -> tuple[int, float]:
        return (-route.priority, -(rng.random() ** (1.0 / max(route.weight, 1e-9))))

    return sorted(routes, key=key)


def is_retryable(error: APIError) -> bool:
    return error.status in RETRYABLE_STATUS and error.code != CREDENTIALS_REJECTED


def _retry_after(error: APIError) -> float | None:
    value = error.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None


class Router:
    def __init__(
        self, policy: RoutingSettings, health: ChannelHealth, rng: random.Random | None = None
    ) -> None:
        self.policy = policy
        self.health = health
        self.rng = rng or random.Random()

    def _backoff(self, attempt: int) -> float:
        cap = min(self.policy.backoff_max, self.policy.backoff_base * 2 ** (attempt - 1))
        return self.rng.uniform(0, cap)

    async def call(
        self, routes: list[ModelRoute], attempt: Callable[[ModelRoute], Awaitable[T]]
    ) -> T:
        ordered = weighted_order(routes, self.rng)
        candidates = [r for r in ordered if self.health.available(r.channel)]
        forced = not candidates
        if forced:
            # Every channel is cooling down: rather than refuse, probe the best one early
            # (a lone upstream that just came back must not stay unusable for a cool-down).
            candidates = ordered[:1]
        attempts = 0
        last: APIError | None = None
        for route in candidates:
            for tries in range(self.policy.retries_per_channel + 1):
                if attempts >= self.policy.max_attempts:
                    break
                if tries:  # a retry on the same channel waits; failover does not
                    await asyncio.sleep(self._backoff(tries))
                if not self.health.begin(route.channel) and not forced:
                    break
                attempts += 1
                try:
                    result = await attempt(route)
                except APIError as error:
                    last = error
                    if error.code == CREDENTIALS_REJECTED:
                        self.health.failure(
                            route.channel, error.message, retry_after=self.policy.cooldown
                        )
                        break
                    if not is_retryable(error):
                        self.health.success(route.channel)  # it answered properly
                        raise
                    retry_after = _retry_after(error)
                    self.health.failure(route.channel, error.message, retry_after)
                    if retry_after is not None and retry_after > 0:
                        break  # the channel asked for a pause: try the next one
                    if not self.health.available(route.channel):
                        break
                    continue
                self.health.success(route.channel)
                return result
        if last is None:
            raise upstream_unavailable(
                "Every upstream for this model is busy; try again shortly.", retry_after=1
            )
        raise last

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
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from cong.channels.catalog import ModelRoute
from cong.channels.events import routing_event
from cong.channels.health import ChannelHealth
from cong.protocol.errors import (
    CREDENTIALS_REJECTED,
    ENDPOINT_MISSING,
    APIError,
    upstream_unavailable,
)
from cong.settings import RoutingSettings

T = TypeVar("T")
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


def weighted_order(routes: list[ModelRoute], rng: random.Random) -> list[ModelRoute]:
    """Priority tiers (high first); inside a tier a weighted random permutation
    (Efraimidis-Spirakis), so the first pick is route *i* with probability w_i / Σw."""

    def key(route: ModelRoute) -> tuple[int, float]:
        return (-route.priority, -(rng.random() ** (1.0 / max(route.weight, 1e-9))))

    return sorted(routes, key=key)


# The channel itself is wrong (its credentials, its base path or deployment): move on to
# the next channel without retrying this one.
CHANNEL_FAULTS = frozenset({CREDENTIALS_REJECTED, ENDPOINT_MISSING})


def is_retryable(error: APIError) -> bool:
    return error.status in RETRYABLE_STATUS and error.code not in CHANNEL_FAULTS


def _retry_after(error: APIError, cap: float) -> float | None:
    """The upstream's ``retry-after`` in seconds, at most ``cap`` (None: absent/invalid)."""
    value = error.headers.get("retry-after")
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    if seconds is None or seconds != seconds or seconds <= 0:  # NaN or not a pause
        return None
    return min(seconds, cap)


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
        self,
        routes: list[ModelRoute],
        attempt: Callable[[ModelRoute], Awaitable[T]],
        *,
        verdict_later: bool = False,
    ) -> T:
        """``attempt`` on the routes in order, with retries and failover. With
        ``verdict_later`` (streams) a successful attempt is not yet a success of the
        channel: the caller reports how the stream ended (``health.success``, ``failure``
        or ``release``)."""
        ordered = weighted_order(routes, self.rng)
        candidates = [r for r in ordered if self.health.available(r.channel)]
        forced = not candidates
        if forced:
            # Every channel is cooling down: rather than refuse, probe the best one early
            # (a lone upstream that just came back must not stay unusable for a cool-down).
            candidates = ordered[:1]
        attempts = 0
        last: APIError | None = None
        for index, route in enumerate(candidates):
            if index and last is not None:
                routing_event(
                    "failover",
                    logging.WARNING,
                    channel=route.channel,
                    previous=candidates[index - 1].channel,
                    status=last.status,
                )
            for tries in range(self.policy.retries_per_channel + 1):
                if attempts >= self.policy.max_attempts:
                    break
                if tries:  # a retry on the same channel waits; failover does not
                    delay = self._backoff(tries)
                    routing_event("retry", channel=route.channel, attempt=tries, delay=delay)
                    await asyncio.sleep(delay)
                if not self.health.begin(route.channel) and not forced:
                    break
                attempts += 1
                try:
                    result = await attempt(route)
                except APIError as error:
                    last = error
                    if not self._failed(route.channel, error):
                        raise
                    if error.code in CHANNEL_FAULTS or not self.health.available(route.channel):
                        break
                    if _retry_after(error, self.policy.max_retry_after):
                        break  # the channel asked for a pause: try the next one
                    continue
                except BaseException:
                    # No verdict on the channel (the client went away, or our own bug):
                    # a half-open probe must not keep the channel excluded for good.
                    self.health.release(route.channel)
                    raise
                if not verdict_later:
                    self.health.success(route.channel)
                return result
        if last is None:
            raise upstream_unavailable(
                "Every upstream for this model is busy; try again shortly.", retry_after=1
            )
        if last.status == 503:
            last.headers.setdefault("retry-after", "1")  # for the client, not the circuit
        raise last

    def _failed(self, channel: str, error: APIError) -> bool:
        """Record an upstream error against the channel's health; False when the error is
        the client's (the channel answered properly, nothing to retry)."""
        routing_event(
            "upstream_error",
            logging.WARNING,
            channel=channel,
            status=error.status,
            code=error.code,
            error=error.message[:300],
        )
        if error.code == CREDENTIALS_REJECTED:
            self.health.failure(channel, error.message, retry_after=self.policy.cooldown)
            return True
        if not is_retryable(error) and error.code != ENDPOINT_MISSING:
            self.health.success(channel)  # it answered properly
            return False
        retry_after = _retry_after(error, self.policy.max_retry_after)
        self.health.failure(channel, error.message, retry_after)
        return True

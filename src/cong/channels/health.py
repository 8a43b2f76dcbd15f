"""Per-channel circuit breaker: N failures in a window open the circuit (the channel is
skipped) for a cool-down; then one probe request is let through (half-open); its success
closes the circuit, its failure opens it again. An upstream ``retry-after`` opens it for
at least that long."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from cong.channels.events import routing_event

# (channel, cooled until (epoch seconds) or None when closed, last error)
HealthListener = Callable[[str, float | None, str | None], None]


@dataclass
class _State:
    failures: deque[float] = field(default_factory=deque)
    open_until: float = 0.0
    probing: bool = False
    last_error: str | None = None
    errors_total: int = 0  # every failure since start (for /metrics)


class ChannelHealth:
    def __init__(
        self,
        *,
        threshold: int,
        window: float,
        cooldown: float,
        listener: HealthListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.window = window
        self.cooldown = cooldown
        self.listener = listener
        self.clock = clock
        self._states: dict[str, _State] = {}

    def _state(self, channel: str) -> _State:
        state = self._states.get(channel)
        if state is None:
            state = self._states[channel] = _State()
        return state

    def state(self, channel: str) -> str:
        state = self._states.get(channel)
        if state is None or state.open_until == 0.0:
            return "closed"
        return "open" if self.clock() < state.open_until else "half-open"

    def available(self, channel: str) -> bool:
        """Could a request go to this channel now (closed, or half-open with no probe)?"""
        state = self._states.get(channel)
        if state is None or state.open_until == 0.0:
            return True
        return self.clock() >= state.open_until and not state.probing

    def begin(self, channel: str) -> bool:
        """Claim the channel for one request; when half-open only one probe may go."""
        if not self.available(channel):
            return False
        state = self._states.get(channel)
        if state is not None and state.open_until != 0.0:
            state.probing = True
        return True

    def release(self, channel: str) -> None:
        """The request that claimed the channel ended without a verdict (the client went
        away, or an unexpected error): a half-open probe slot is free again."""
        state = self._states.get(channel)
        if state is not None:
            state.probing = False

    def success(self, channel: str) -> None:
        state = self._states.get(channel)
        if state is None:
            return
        was_open = state.open_until != 0.0
        state.failures.clear()
        state.open_until, state.probing, state.last_error = 0.0, False, None
        if was_open:
            routing_event("circuit_closed", channel=channel)
            if self.listener:
                self.listener(channel, None, None)

    def failure(self, channel: str, error: str, retry_after: float | None = None) -> None:
        now = self.clock()
        state = self._state(channel)
        state.last_error = error[:500]
        state.errors_total += 1
        state.failures.append(now)
        while state.failures and now - state.failures[0] > self.window:
            state.failures.popleft()
        half_open_failed = state.probing
        state.probing = False
        if retry_after or half_open_failed or len(state.failures) >= self.threshold:
            state.open_until = now + max(
                self.cooldown if not retry_after else 0.0, retry_after or 0.0
            )
            routing_event(
                "circuit_open",
                logging.WARNING,
                channel=channel,
                seconds=round(state.open_until - now, 1),
                failures=len(state.failures),
                error=state.last_error,
            )
            if self.listener:
                self.listener(channel, time.time() + (state.open_until - now), state.last_error)

    def snapshot(self) -> dict[str, dict[str, object]]:
        now = self.clock()
        return {
            name: {
                "circuit": self.state(name),
                "cooldown_remaining": round(max(0.0, s.open_until - now), 1),
                "recent_failures": sum(1 for t in s.failures if now - t <= self.window),
                "errors_total": s.errors_total,
                "last_error": s.last_error,
            }
            for name, s in self._states.items()
        }

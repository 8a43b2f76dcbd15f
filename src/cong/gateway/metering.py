"""Accounting for one request: admission (rate limits, then the wallet hold), and the
end (settle exactly once, adjust the token count, write the usage log)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cong.accounts.principal import Principal
from cong.billing.pricing import Usage
from cong.billing.usage_log import UsageRecord, UsageWriter
from cong.billing.wallets import Hold, Wallets
from cong.channels.catalog import ModelRoute
from cong.limits.base import Decision, Limit, RateLimiter

# Token counts at or above this are not believed (nor are negative or non-integer ones).
ABSURD_TOKENS = 2**53


def usage_of(payload: dict[str, Any] | None, images: int = 0) -> Usage | None:
    """Read an OpenAI ``usage`` object. None when it is absent or not believable (a
    count that is negative, not an integer, or absurdly large): the caller estimates
    then, and marks the usage row as estimated."""
    usage = (payload or {}).get("usage")
    missing = Usage(images=images) if images else None
    if not isinstance(usage, dict):
        return missing
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    if not isinstance(prompt_details, dict) or not isinstance(completion_details, dict):
        return missing
    values = (
        usage.get("prompt_tokens") or usage.get("input_tokens"),
        prompt_details.get("cached_tokens"),
        usage.get("completion_tokens"),
        completion_details.get("reasoning_tokens"),
    )
    counts = [count for value in values if (count := _tokens(value)) is not None]
    if len(counts) != len(values):
        return missing
    prompt, cached, completion, reasoning = counts
    return Usage(prompt, cached, completion, reasoning, images)


def _tokens(value: Any) -> int | None:
    """A token count: 0 when absent, None when not believable."""
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return value if 0 <= value < ABSURD_TOKENS else None


def limits_of(principal: Principal) -> list[Limit]:
    limits = []
    if principal.key_rpm or principal.key_tpm:
        limits.append(
            Limit(f"key:{principal.key_id}", principal.key_rpm or None, principal.key_tpm or None)
        )
    if principal.user_rpm or principal.user_tpm:
        limits.append(Limit(f"user:{principal.user_id}", principal.user_rpm, principal.user_tpm))
    return limits


@dataclass
class Meter:
    """One request's accounting state, from admission to settlement."""

    request_id: str
    principal: Principal
    endpoint: str
    requested_model: str
    stream: bool
    hold: Hold
    limits: list[Limit]
    charged_tokens: int
    started: float = field(default_factory=time.perf_counter)
    route: ModelRoute | None = None
    first_byte: float | None = None
    done: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    decision: Decision | None = None

    def served_by(self, route: ModelRoute) -> None:
        self.route = route


class Metering:
    def __init__(self, wallets: Wallets, usage: UsageWriter, limiter: RateLimiter) -> None:
        self.wallets = wallets
        self.usage = usage
        self.limiter = limiter
        self.active = 0  # requests between admission and the end of their accounting

    async def admit(
        self,
        principal: Principal,
        request_id: str,
        endpoint: str,
        requested_model: str,
        priced_model: str,
        worst: Usage,
        *,
        stream: bool,
        capped: bool = True,
    ) -> Meter:
        """Rate limits first (429), then the wallet and key cap hold (402). ``capped``:
        the request bounds its output, so it is never charged more than the hold."""
        limits = limits_of(principal)
        tokens = worst.prompt_tokens + worst.completion_tokens
        decision: Decision | None = None
        if limits:
            decision = await self.limiter.acquire(limits, tokens)
            if not decision.allowed:
                raise decision.error()
        self.active += 1
        try:
            hold = await self.wallets.hold(
                principal, request_id, priced_model, worst, capped=capped, alone=self.active == 1
            )
        except BaseException:
            self.active -= 1
            if limits:
                await self.limiter.adjust(limits, -tokens, decision)
            raise
        return Meter(
            request_id,
            principal,
            endpoint,
            requested_model,
            stream,
            hold,
            limits,
            tokens,
            headers=decision.headers if decision else {},
            decision=decision,
        )

    async def finish(
        self,
        meter: Meter,
        usage: Usage | None,
        *,
        status: int,
        end_reason: str,
        estimated: bool = False,
    ) -> int:
        """Settle (or release) exactly once and log the request. Returns the charge."""
        if meter.done:
            return 0
        meter.done = True
        alone = self.active == 1
        self.active -= 1
        if usage is None:
            await self.wallets.release(meter.hold, end_reason, alone=alone)
            cost, usage = 0, Usage()
        else:
            cost = await self.wallets.settle(meter.hold, usage, end_reason, alone=alone)
        if meter.limits:
            used = usage.prompt_tokens + usage.completion_tokens
            await self.limiter.adjust(meter.limits, used - meter.charged_tokens, meter.decision)
        now = time.perf_counter()
        route = meter.route
        self.usage.add(
            UsageRecord(
                request_id=meter.request_id,
                created_at=datetime.now(UTC),
                user_id=meter.principal.user_id,
                key_id=meter.principal.key_id,
                group=meter.principal.group,
                endpoint=meter.endpoint,
                requested_model=meter.requested_model,
                served_model=route.upstream_model if route else "",
                channel=route.channel if route else "",
                prompt_tokens=usage.prompt_tokens,
                cached_tokens=usage.cached_tokens,
                completion_tokens=usage.completion_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                cost=cost,
                latency_ms=int((now - meter.started) * 1000),
                ttft_ms=int((meter.first_byte - meter.started) * 1000)
                if meter.first_byte
                else None,
                status=status,
                stream=meter.stream,
                end_reason=end_reason,
                estimated=estimated,
            )
        )
        return cost

"""``cong channels test`` / ``POST /api/channels/{id}/test``: one real minimal request."""

from __future__ import annotations

import time
from dataclasses import dataclass

from cong.channels.catalog import routes_of
from cong.channels.service import ChannelConfig
from cong.protocol.errors import APIError


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    model: str | None
    latency_ms: float | None
    error: str | None = None


async def check_channel(config: ChannelConfig, model: str | None = None) -> CheckResult:
    every = routes_of(config)
    routes = [r for r in every if model is None or r.id == model]
    if not routes:
        return CheckResult(False, model, None, "the channel serves no such model")
    route = routes[0]
    started = time.perf_counter()
    try:
        if route.kind == "embedding":
            await route.provider.embed({"model": route.upstream_model, "input": "ping"})
        elif route.kind == "chat":
            await route.provider.chat(
                {
                    "model": route.upstream_model,
                    "max_tokens": 1,
                    "messages": [{"role": "user", "content": "ping"}],
                }
            )
        else:
            return CheckResult(False, route.id, None, "image models are not tested (costly)")
    except APIError as error:
        return CheckResult(False, route.id, None, f"{error.status}: {error.message}")
    finally:
        for provider in {id(r.provider): r.provider for r in every}.values():
            await provider.close()
    return CheckResult(True, route.id, round((time.perf_counter() - started) * 1000, 1))

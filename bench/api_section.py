"""Section 1: proxy overhead. The same load straight at the fake upstream, through the bare
proxy, and through the gateway, for each concurrency × {non-stream, stream}."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from load import LoadResult, LoadSpec, run_load
from servers import ADMIN_TOKEN, UPSTREAM_KEY, Server

CHAT_PATH = "/v1/chat/completions"
TARGETS = ("direct", "bare", "gateway")


@dataclass(frozen=True)
class ApiPlan:
    concurrencies: tuple[int, ...]
    requests: dict[int, int]
    warmup: int
    max_seconds: float

    def count(self, concurrency: int) -> int:
        return self.requests.get(concurrency, max(self.requests.values()))


FULL_PLAN = ApiPlan((1, 16, 64, 256), {1: 2000, 16: 5000, 64: 5000, 256: 6000}, 400, 60.0)
QUICK_PLAN = ApiPlan((1, 16, 64, 256), {1: 200, 16: 500, 64: 800, 256: 1200}, 100, 20.0)


@dataclass(frozen=True)
class Target:
    name: str
    base: str
    token: str
    pids: dict[str, int]


@dataclass
class ApiCell:
    stream: bool
    concurrency: int
    results: dict[str, LoadResult] = field(default_factory=dict)

    def added_p50_ms(self, target: str) -> float | None:
        direct, other = self.results.get("direct"), self.results.get(target)
        if direct is None or other is None or not other.ok:
            return None
        return other.p50_ms - direct.p50_ms

    def rps_ratio(self) -> float | None:
        bare, gw = self.results.get("bare"), self.results.get("gateway")
        return gw.rps / bare.rps if bare and gw and bare.rps else None

    def cpu_ratio(self) -> float | None:
        bare, gw = self.results.get("bare"), self.results.get("gateway")
        if bare is None or gw is None:
            return None
        bare_ms = bare.cpu_ms_per_req("server")
        return gw.cpu_ms_per_req("server") / bare_ms if bare_ms and gw.ok else None


def targets(upstream: Server, proxy: Server, gateway: Server | None) -> list[Target]:
    found = [
        Target("direct", upstream.base, UPSTREAM_KEY, {"upstream": upstream.pid}),
        Target("bare", proxy.base, UPSTREAM_KEY, {"server": proxy.pid, "upstream": upstream.pid}),
    ]
    if gateway is not None:
        pids = {"server": gateway.pid, "upstream": upstream.pid}
        found.append(Target("gateway", gateway.base, ADMIN_TOKEN, pids))
    return found


async def measure(target: Target, stream: bool, concurrency: int, plan: ApiPlan) -> LoadResult:
    url = target.base + CHAT_PATH
    warm = LoadSpec(url, max(plan.warmup, 2 * concurrency), concurrency, stream, target.token)
    await run_load(warm)
    spec = LoadSpec(
        url,
        plan.count(concurrency),
        concurrency,
        stream,
        target.token,
        max_seconds=plan.max_seconds,
        pids=target.pids,
    )
    result = await run_load(spec)
    await asyncio.sleep(0.3)  # let the servers settle before the next run
    return result


async def run_api(found: list[Target], plan: ApiPlan, log: Callable[[str], None]) -> list[ApiCell]:
    cells: list[ApiCell] = []
    for stream in (False, True):
        for concurrency in plan.concurrencies:
            cell = ApiCell(stream, concurrency)
            for target in found:
                result = await measure(target, stream, concurrency, plan)
                cell.results[target.name] = result
                log(f"  {target.name:8s} {result.summary()}")
            cells.append(cell)
    return cells

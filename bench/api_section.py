"""Section 1: proxy overhead. The same load straight at the fake upstream, through the bare
proxy, and through the gateway, for each concurrency × {non-stream, stream, stream-paced}."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from load import LoadResult, LoadSpec, run_load
from meter import DISTURBED_CORES
from servers import ADMIN_TOKEN, UPSTREAM_KEY, Server

CHAT_PATH = "/v1/chat/completions"
DISTURBED_RETRIES = 2  # a disturbed run is repeated up to this many times...
RETRY_BUDGET = 12  # ...and a section as a whole retries at most this often (a busy box stays busy)


@dataclass(frozen=True)
class Mode:
    name: str
    stream: bool
    model: str
    per_connection: int | None = None  # cap on requests per connection (paced runs are slow)
    # added latency from time to first byte: a paced stream's end moves with the 1 ms ticks
    added_by_ttfb: bool = False


NON_STREAM = Mode("non-stream", False, "fake-model")
STREAM = Mode("stream", True, "fake-model")
# the fake upstream trickles these out, 1 chunk/ms: ~30 ms a response, relayed event by event
STREAM_PACED = Mode("stream-paced", True, "fake-model-paced", 100, added_by_ttfb=True)
MODES = (NON_STREAM, STREAM, STREAM_PACED)


@dataclass(frozen=True)
class ApiPlan:
    concurrencies: tuple[int, ...]
    requests: dict[int, int]
    warmup: int
    max_seconds: float
    repeat: int = 1

    def count(self, mode: Mode, concurrency: int) -> int:
        count = self.requests.get(concurrency, max(self.requests.values()))
        if mode.per_connection is not None:
            count = min(count, mode.per_connection * concurrency)
        return count


FULL_PLAN = ApiPlan((1, 16, 64, 256), {1: 2000, 16: 5000, 64: 5000, 256: 6000}, 400, 60.0, 3)
QUICK_PLAN = ApiPlan((1, 16, 64, 256), {1: 200, 16: 500, 64: 800, 256: 1200}, 100, 20.0, 1)


@dataclass(frozen=True)
class Target:
    name: str
    base: str
    token: str
    pids: dict[str, int]


@dataclass
class ApiCell:
    mode: Mode
    concurrency: int
    results: dict[str, LoadResult] = field(default_factory=dict)

    def added_p50_ms(self, target: str) -> float | None:
        direct, other = self.results.get("direct"), self.results.get(target)
        if direct is None or other is None or not other.ok:
            return None
        if self.mode.added_by_ttfb:
            return other.ttfb_p50_ms - direct.ttfb_p50_ms
        return other.p50_ms - direct.p50_ms

    @property
    def disturbed(self) -> bool:
        return any(r.other_cores > DISTURBED_CORES for r in self.results.values())

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


async def measure(target: Target, mode: Mode, concurrency: int, plan: ApiPlan) -> LoadResult:
    url = target.base + CHAT_PATH
    warmup = min(max(plan.warmup, 2 * concurrency), plan.count(mode, concurrency))
    await run_load(LoadSpec(url, warmup, concurrency, mode.stream, target.token, mode.model))
    spec = LoadSpec(
        url,
        plan.count(mode, concurrency),
        concurrency,
        mode.stream,
        target.token,
        mode.model,
        max_seconds=plan.max_seconds,
        pids=target.pids,
    )
    result = await run_load(spec)
    await asyncio.sleep(0.3)  # let the servers settle before the next run
    return result


@dataclass
class Retries:
    left: int = RETRY_BUDGET


async def measure_undisturbed(
    target: Target,
    mode: Mode,
    concurrency: int,
    plan: ApiPlan,
    retries: Retries,
    log: Callable[[str], None],
) -> LoadResult:
    """A run during which the rest of the machine stayed quiet, if one of up to
    ``1 + DISTURBED_RETRIES`` attempts was (budget permitting); else the least disturbed."""
    attempts: list[LoadResult] = []
    for attempt in range(1 + DISTURBED_RETRIES):
        if attempt:
            if retries.left <= 0:
                break
            retries.left -= 1
        result = await measure(target, mode, concurrency, plan)
        attempts.append(result)
        disturbed = result.other_cores > DISTURBED_CORES
        log(f"  {target.name:8s} {mode.name:12s} {result.summary()}{' (disturbed)' * disturbed}")
        if not disturbed:
            break
    return min(attempts, key=lambda r: r.other_cores)


def median_run(runs: list[LoadResult]) -> LoadResult:
    """The run with the median requests/s (the lower middle one for an even count)."""
    return sorted(runs, key=lambda r: r.rps)[(len(runs) - 1) // 2]


async def run_api(found: list[Target], plan: ApiPlan, log: Callable[[str], None]) -> list[ApiCell]:
    """Every cell measures each target ``plan.repeat`` times, interleaved, and keeps the
    median run, so a burst of outside load hits one run rather than one target."""
    cells: list[ApiCell] = []
    retries = Retries()
    for mode in MODES:
        for concurrency in plan.concurrencies:
            runs: dict[str, list[LoadResult]] = {t.name: [] for t in found}
            for _ in range(plan.repeat):
                for target in found:
                    result = await measure_undisturbed(
                        target, mode, concurrency, plan, retries, log
                    )
                    runs[target.name].append(result)
            cell = ApiCell(mode, concurrency)
            cell.results = {name: median_run(rs) for name, rs in runs.items()}
            cells.append(cell)
    return cells

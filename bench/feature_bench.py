"""Feature costs of Cổng: billing (SQLite and PostgreSQL) and the Anthropic translation path.

A. ``billing``: the same gateway, fake OpenAI upstream, two models on it: ``fake-model``
   (free, called with the admin token: no limits, no wallet) and ``fake-priced`` (priced,
   called with a user key that has rpm/tpm limits: rate limiting, a wallet hold, settlement
   and a batched usage-log write on every request); once on SQLite, once on a throw-away
   PostgreSQL cluster (tests/support/postgres.py).
B. ``anthropic``: ``fake-model`` (OpenAI pass-through) vs ``claude-fake`` (translated to and
   from a fake Anthropic Messages server, bench/fake_anthropic.py), admin token, SQLite.

Each cell: a warm-up at the same concurrency, then the measured run(s) with bench/load.py;
the gateway's CPU (with children, including the settle tail) and the fake's or database's
CPU are measured separately.

Usage: ``.venv/bin/python bench/feature_bench.py --out bench/results-features.md [--quick]
[--section billing|anthropic|all] [--repeat N]``. Does not modify any other bench file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import aiohttp
import uvloop

from load import LoadResult, LoadSpec, run_load
from servers import (
    ADMIN_TOKEN,
    BENCH_DIR,
    UPSTREAM_KEY,
    Server,
    ServerError,
    fake_upstream,
    free_port,
    gateway_env,
    read_port,
    spawn,
    wait_http,
)

ANTHROPIC_KEY = "sk-ant-fake"
FREE_MODEL, PRICED_MODEL, CLAUDE_MODEL = "fake-model", "fake-priced", "claude-fake"
MODES = (False, True)  # stream?


def source_state() -> tuple[str, float]:
    """The git HEAD (with ``+dirty`` if src/ differs from it) and the newest src/ mtime."""
    root = BENCH_DIR.parent
    run = functools.partial(subprocess.run, cwd=root, capture_output=True, text=True)
    head = run(["git", "rev-parse", "--short", "HEAD"]).stdout.strip() or "unknown"
    if run(["git", "status", "--porcelain", "--", "src"]).stdout.strip():
        head += "+dirty"
    newest = max((p.stat().st_mtime for p in (root / "src").rglob("*.py")), default=0.0)
    return head, newest


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Plan:
    requests: int
    warmup: int
    concurrencies: tuple[int, ...]
    repeat: int
    max_seconds: float = 120.0


FULL_PLAN = Plan(requests=2000, warmup=200, concurrencies=(1, 16, 64, 256), repeat=1)
QUICK_PLAN = Plan(requests=300, warmup=60, concurrencies=(1, 16, 64, 256), repeat=1)


@dataclass(frozen=True)
class Variant:
    label: str
    model: str
    token: str
    side: str  # pid name of the other measured process: the fake upstream or the database
    side_pid: int


@dataclass(frozen=True)
class Cell:
    group: str  # database (billing) or "sqlite" (anthropic)
    stream: bool
    concurrency: int
    variant: Variant
    result: LoadResult

    @property
    def gw_cpu(self) -> float:
        return self.result.cpu_ms_per_req("gateway")

    @property
    def side_cpu(self) -> float:
        return self.result.cpu_ms_per_req(self.variant.side)


@dataclass
class Results:
    billing: list[Cell] = field(default_factory=list)
    anthropic: list[Cell] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


# --- servers -------------------------------------------------------------------------------


def config_text(openai: Server, anthropic: Server | None) -> str:
    text = (
        f'[[upstreams]]\nname = "fake"\nbase_url = "{openai.base}/v1"\n'
        f'api_key = "{UPSTREAM_KEY}"\nmodels = ["{FREE_MODEL}", "{PRICED_MODEL}"]\n'
    )
    if anthropic is not None:
        text += (
            f'\n[[upstreams]]\nname = "claude"\ntype = "anthropic"\n'
            f'base_url = "{anthropic.base}"\napi_key = "{ANTHROPIC_KEY}"\n'
            f'models = ["{CLAUDE_MODEL}"]\n'
        )
    return text


@contextlib.asynccontextmanager
async def gateway(
    work: Path,
    name: str,
    config: str,
    database_url: str | None,
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[Server]:
    data_dir = work / f"data-{name}"
    data_dir.mkdir()
    config_path = work / f"{name}.toml"
    config_path.write_text(config)
    port = free_port()
    env = gateway_env(config_path, data_dir, port, models=False)
    if database_url:
        env["CONG_DATABASE_URL"] = database_url
    # Conversations (memory) off: these sections measure billing and translation, and
    # a stored turn per request would weigh on both variants alike (bench/README.md).
    env["CONG_MEMORY__DEFAULT_MODE"] = "off"
    env.update(extra_env or {})
    server = spawn(name, [sys.executable, "-m", "cong", "serve"], work, env)
    server.port = port
    try:
        await wait_http(server, "/api/health", 90)
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def fake_anthropic(work: Path, max_seconds: float) -> AsyncIterator[Server]:
    cmd = [sys.executable, str(BENCH_DIR / "fake_anthropic.py"), "--port", "0"]
    cmd += ["--api-key", ANTHROPIC_KEY, "--models", CLAUDE_MODEL]
    cmd += ["--max-seconds", str(max_seconds)]
    server = spawn("fake_anthropic", cmd, work)
    try:
        server.port = await read_port(server)  # bound and listening before it prints
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def postgres() -> AsyncIterator[tuple[str, int]]:
    """A throw-away cluster with a fresh ``cong_bench`` database: (URL, postmaster pid)."""
    sys.path.insert(0, str(BENCH_DIR.parent))
    import asyncpg
    from tests.support.postgres import PostgresCluster

    cluster = PostgresCluster()
    try:
        admin_url = await asyncio.to_thread(cluster.start)
        conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await conn.execute("CREATE DATABASE cong_bench")
        finally:
            await conn.close()
        pid = int((cluster.data / "postmaster.pid").read_text().split("\n", 1)[0])
        yield admin_url.rsplit("/", 1)[0] + "/cong_bench", pid
    finally:
        await asyncio.to_thread(cluster.stop)


async def setup_billing(gw: Server) -> str:
    """Price ``fake-priced``; create user ``bench`` in a group with rate limits, with funds
    and a key that has its own rate limits and spend caps (lifetime and per day); the key's
    secret. Every limit is far above what the run uses: each is checked, none is hit."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    key = {
        "user": "bench",
        "rpm": 1_000_000,
        "tpm": 1_000_000_000,
        "spend_cap": "100000",
        "period_cap": "50000",
        "period": "day",
    }
    steps: list[tuple[str, str, dict[str, object]]] = [
        ("PUT", f"/api/prices/{PRICED_MODEL}", {"input": "2.5", "output": "10"}),
        ("POST", "/api/groups", {"name": "buyers", "rpm": 1_000_000, "tpm": 1_000_000_000}),
        ("POST", "/api/users", {"name": "bench", "group": "buyers"}),
        ("POST", "/api/wallets/bench/topup", {"amount": "1000000"}),
        ("POST", "/api/keys", key),
    ]
    answer: dict[str, object] = {}
    async with aiohttp.ClientSession(headers=headers) as session:
        for method, path, body in steps:
            async with session.request(method, gw.base + path, json=body) as resp:
                if resp.status not in (200, 201):
                    raise ServerError(f"{method} {path}: {resp.status} {await resp.text()}")
                answer = await resp.json()
    return str(answer["key"])


# --- measuring -----------------------------------------------------------------------------


async def measure(
    gw: Server, variant: Variant, stream: bool, concurrency: int, plan: Plan
) -> LoadResult:
    """Warm-up, then ``plan.repeat`` runs; the median run by rps."""
    spec = LoadSpec(
        url=gw.base + "/v1/chat/completions",
        requests=plan.warmup,
        concurrency=concurrency,
        stream=stream,
        token=variant.token,
        model=variant.model,
        max_seconds=plan.max_seconds,
    )
    await run_load(spec)
    spec = replace(
        spec, requests=plan.requests, pids={"gateway": gw.pid, variant.side: variant.side_pid}
    )
    runs = sorted([await run_load(spec) for _ in range(plan.repeat)], key=lambda r: r.rps)
    return runs[len(runs) // 2]


async def measure_pair(
    gw: Server, group: str, variants: tuple[Variant, Variant], plan: Plan, out: list[Cell]
) -> None:
    """Every mode and concurrency, the two variants back to back in each cell."""
    for stream in MODES:
        for c in plan.concurrencies:
            for variant in variants:
                result = await measure(gw, variant, stream, c, plan)
                out.append(Cell(group, stream, c, variant, result))
                log(f"{group} {variant.label}: {result.summary()}")


async def billing_on(work: Path, upstream: Server, db: str, plan: Plan, results: Results) -> None:
    async with contextlib.AsyncExitStack() as stack:
        url: str | None = None
        side, side_pid = "fake", upstream.pid
        if db == "postgres":
            url, side_pid = await stack.enter_async_context(postgres())
            side = "db"
        gw = await stack.enter_async_context(
            gateway(work, f"gateway-{db}", config_text(upstream, None), url)
        )
        key = await setup_billing(gw)
        variants = (
            Variant("free", FREE_MODEL, ADMIN_TOKEN, side, side_pid),
            Variant("billed", PRICED_MODEL, key, side, side_pid),
        )
        await measure_pair(gw, db, variants, plan, results.billing)


async def anthropic_section(work: Path, upstream: Server, plan: Plan, results: Results) -> None:
    async with contextlib.AsyncExitStack() as stack:
        claude = await stack.enter_async_context(fake_anthropic(work, 3600))
        gw = await stack.enter_async_context(
            gateway(work, "gateway-anthropic", config_text(upstream, claude), None)
        )
        variants = (
            Variant("openai", FREE_MODEL, ADMIN_TOKEN, "fake", upstream.pid),
            Variant("anthropic", CLAUDE_MODEL, ADMIN_TOKEN, "fake", claude.pid),
        )
        await measure_pair(gw, "sqlite", variants, plan, results.anthropic)


# --- report --------------------------------------------------------------------------------


def _mode(stream: bool) -> str:
    return "stream" if stream else "non-stream"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b > 0 else "–"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def raw_table(cells: list[Cell], side_label: str) -> list[str]:
    header = ["group", "mode", "c", "variant", "rps", "p50 ms", "p99 ms", "gateway CPU ms/req"]
    header += [f"{side_label} CPU ms/req", "other cores", "errors"]
    rows = []
    for cell in cells:
        r = cell.result
        rows.append([
            cell.group, _mode(cell.stream), str(cell.concurrency), cell.variant.label,
            f"{r.rps:.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", f"{cell.gw_cpu:.3f}",
            f"{cell.side_cpu:.3f}", f"{r.other_cores:.2f}", str(r.errors),
        ])  # fmt: skip
    return _table(header, rows)


def pairs(cells: list[Cell]) -> list[tuple[Cell, Cell]]:
    """(first variant, second variant) per group, mode and concurrency."""
    return [(cells[i], cells[i + 1]) for i in range(0, len(cells) - 1, 2)]


def delta_table(cells: list[Cell], names: tuple[str, str], side: str | None) -> list[str]:
    a, b = names
    header = ["group", "mode", "c", f"gateway CPU ms/req {a} → {b}", "added CPU ms/req"]
    header += ["CPU ratio", f"p50 ms {a} → {b}", "added p50 ms", "rps ratio"]
    if side:
        header.append(f"{side} CPU ms/req {a} → {b}")
    rows = []
    for x, y in pairs(cells):
        rx, ry = x.result, y.result
        row = [
            x.group, _mode(x.stream), str(x.concurrency),
            f"{x.gw_cpu:.3f} → {y.gw_cpu:.3f}", f"{y.gw_cpu - x.gw_cpu:+.3f}",
            _ratio(y.gw_cpu, x.gw_cpu), f"{rx.p50_ms:.2f} → {ry.p50_ms:.2f}",
            f"{ry.p50_ms - rx.p50_ms:+.2f}", _ratio(ry.rps, rx.rps),
        ]  # fmt: skip
        if side:
            row.append(f"{x.side_cpu:.3f} → {y.side_cpu:.3f}")
        rows.append(row)
    return _table(header, rows)


COLUMN_NOTES = (
    ("rps", "successful responses / wall time of the measured run"),
    ("p50 ms, p99 ms", "latency percentiles, request written → last byte of the response"),
    (
        "gateway CPU ms/req",
        "user+system CPU of the `cong serve` process tree (with children) over the run plus"
        " the tail until it is idle again (so batched usage-log writes count) / responses",
    ),
    (
        "fake / db CPU ms/req",
        "the same for the fake upstream of that row, or (PostgreSQL rows) the postmaster and"
        " all its backends; not part of the gateway figure",
    ),
    ("other cores", "CPU the rest of the machine used meanwhile (noise); > ~0.25: disturbed"),
    ("errors", "non-200s, incomplete streams, timeouts"),
    (
        "added CPU ms/req, added p50 ms",
        "second variant minus first: same gateway, same cell, run back to back",
    ),
    ("CPU ratio, rps ratio", "second variant / first variant"),
)
COLUMNS = "\n".join(_table(["column", "meaning"], [list(n) for n in COLUMN_NOTES])) + "\n"


def target_table(cells: list[Cell]) -> list[str]:
    """Issue #14's targets per database and mode: billed gateway CPU ≤ 2× free at every
    concurrency, billed rps at c=64 ≥ 50% of free, no errors."""
    header = ["group", "mode", "CPU ratio billed/free (c=1/16/64/256)", "≤ 2×"]
    header += ["rps ratio at c=64", "≥ 0.5", "errors (free, billed)"]
    rows = []
    keys = sorted({(c.group, c.stream) for c in cells}, key=lambda k: (k[0] != "sqlite", k[1]))
    for group, stream in keys:
        mine = [p for p in pairs(cells) if p[0].group == group and p[0].stream == stream]
        ratios = [y.gw_cpu / x.gw_cpu if x.gw_cpu else float("inf") for x, y in mine]
        at64 = [y.result.rps / x.result.rps for x, y in mine if x.concurrency == 64]
        errors = (sum(x.result.errors for x, _ in mine), sum(y.result.errors for _, y in mine))
        rows.append([
            group, _mode(stream), " / ".join(f"{r:.2f}" for r in ratios),
            "yes" if ratios and max(ratios) <= 2 else "**no**",
            f"{at64[0]:.2f}" if at64 else "–",
            "yes" if at64 and at64[0] >= 0.5 else "**no**",
            f"{errors[0]}, {errors[1]}",
        ])  # fmt: skip
    return _table(header, rows)


def latency_table(cells: list[Cell]) -> list[str]:
    """p50 / p99 and gateway CPU per request: free, billed on SQLite, billed on PostgreSQL."""
    header = ["mode", "c", "variant", "p50 ms", "p99 ms", "gateway CPU ms/req", "rps"]
    rows = []
    order = sorted(cells, key=lambda c: (c.stream, c.concurrency, c.group != "sqlite"))
    for cell in order:
        if cell.variant.label == "free" and cell.group != "sqlite":
            continue  # the free path does not touch the database: one row is enough
        name = "free" if cell.variant.label == "free" else f"priced-{cell.group}"
        r = cell.result
        rows.append([
            _mode(cell.stream), str(cell.concurrency), name, f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}", f"{cell.gw_cpu:.3f}", f"{r.rps:.0f}",
        ])  # fmt: skip
    return _table(header, rows)


def markdown(results: Results, context: list[str]) -> str:
    lines = ["# Cổng feature benchmarks", "", *[f"- {c}" for c in context], ""]
    if results.billing:
        lines += ["## A. Billing cost", "", BILLING_TEXT, ""]
        lines += ["### Targets (issue #14)", "", *target_table(results.billing), ""]
        lines += ["### Free, priced-SQLite, priced-PostgreSQL", "", *latency_table(results.billing)]
        lines += [""]
        lines += ["### Billing overhead per request (billed vs free)", ""]
        side = "fake / db"
        lines += [*delta_table(results.billing, ("free", "billed"), side), ""]
        lines += ["### Raw runs", "", *raw_table(results.billing, "fake / db"), ""]
    if results.anthropic:
        lines += ["## B. Anthropic translation vs OpenAI pass-through", "", ANTHROPIC_TEXT, ""]
        lines += [*delta_table(results.anthropic, ("openai", "anthropic"), "fake"), ""]
        lines += ["### Raw runs", "", *raw_table(results.anthropic, "fake"), ""]
    lines += ["## Columns", "", COLUMNS]
    for name, text in results.failures.items():
        lines += [f"## Failed: {name}", "", "```", text[-3000:], "```", ""]
    return "\n".join(lines)


BILLING_TEXT = """\
One gateway per database (fresh data dir; PostgreSQL: a throw-away cluster with fsync off),
the fast fake OpenAI upstream behind it. **free**: `fake-model`, no price, admin token (no
rate limit, no wallet). **billed**: `fake-priced` (2.5 / 10 per 1M input/output tokens), a
user in a group with rpm/tpm limits, a key with its own rpm/tpm limits and spend caps
(lifetime and per day), a funded wallet: per request two rate-limit checks, a wallet hold
and a settlement (each committed before the answer, in group-committed transactions) and
a batched usage-log row. On SQLite the database work is inside the gateway process, so it
is in the gateway CPU column; on PostgreSQL it is split between the gateway (driver) and
the `db` column. The free rows of the PostgreSQL gateway are left out of the latency table
(the free path does not touch the database)."""

ANTHROPIC_TEXT = """\
One gateway (SQLite, admin token, no billing) with two upstreams: `fake-model` on the fake
OpenAI server (body passed through, usage read) and `claude-fake` on bench/fake_anthropic.py
(request translated to the Messages API, the response or each of the 26 SSE events translated
back to OpenAI chunks). The fakes' CPU is measured apart (last column), so the gateway CPU
column compares the gateway alone."""


# --- command line --------------------------------------------------------------------------


async def bench(args: argparse.Namespace, write: Callable[[Results], None]) -> Results:
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    if args.repeat:
        plan = replace(plan, repeat=args.repeat)
    results = Results()
    with tempfile.TemporaryDirectory(prefix="cong-feature-bench-") as tmp:
        work = Path(tmp)
        async with fake_upstream(work, 3600) as upstream:
            if args.section in ("billing", "all"):
                for db in ("sqlite", "postgres"):
                    log(f"section A: billing on {db}")
                    try:
                        await billing_on(work, upstream, db, plan, results)
                    except (ServerError, RuntimeError, OSError) as exc:
                        results.failures[f"billing on {db}"] = str(exc)
                        log(f"billing on {db} failed: {exc}")
                    write(results)
            if args.section in ("anthropic", "all"):
                log("section B: anthropic translation")
                try:
                    await anthropic_section(work, upstream, plan, results)
                except (ServerError, RuntimeError, OSError) as exc:
                    results.failures["anthropic"] = str(exc)
                    log(f"anthropic section failed: {exc}")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 requests per cell")
    parser.add_argument("--section", choices=("billing", "anthropic", "all"), default="all")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results-features.md")
    parser.add_argument("--repeat", type=int, default=0, help="runs per cell (median by rps)")
    args = parser.parse_args(argv)
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    context = [
        f"Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {os.cpu_count()} cores; "
        f"load average before: {load}",
        f"{plan.requests} requests per cell after a {plan.warmup}-request warm-up, "
        f"{args.repeat or plan.repeat} run(s) per cell; 1 gateway worker, access log off",
        f"Run: `{shlex.join(['.venv/bin/python', 'bench/feature_bench.py', *sys.argv[1:]])}`"
        + (" (quick: indicative only)" if args.quick else ""),
    ]

    def write(results: Results, final: bool = False) -> None:
        text = markdown(results, context)
        if not final:
            text += "\n_Partial: the run is still going (or was interrupted)._\n"
        args.out.write_text(text)

    head, newest = source_state()
    context.append(f"Gateway source: commit {head}")
    try:
        results = uvloop.run(bench(args, write))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log(f"interrupted; finished parts (if any) are in {args.out}")
        raise SystemExit(130) from None
    if source_state()[1] != newest:
        context.append(
            "**Warning: src/ changed during the run**: gateways started later ran newer code"
        )
    write(results, final=True)
    print(markdown(results, context))
    log(f"written to {args.out}")


if __name__ == "__main__":
    main()

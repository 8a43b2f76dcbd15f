"""Two commits of Cổng side by side: the same free and priced loads against a gateway
running an older commit's source (``--base``) and one running this checkout's, in the
same run, alternating base/head for every repeat so that a busy machine weighs on both.

Both gateways run from this checkout's virtualenv with ``PYTHONPATH`` pointing at their
own ``src/`` (the base commit is checked out with ``git worktree`` into a temporary
directory and removed afterwards), one worker each, on SQLite (and PostgreSQL with
``--postgres``), behind the same fake upstream. The free variant is ``fake-model`` with
the admin key; the priced one is ``fake-priced`` with a user key that has rate limits,
spend caps and a funded wallet (feature_bench.setup_billing). Memory (conversations) is
off on both: a commit from before it existed has none, and this compares like with like.

Usage: ``.venv/bin/python bench/ab_compare.py --base b8c0462 [--quick] [--repeat 3]
[--postgres] [--out bench/results-ab.md]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvloop

from feature_bench import (
    FREE_MODEL,
    PRICED_MODEL,
    config_text,
    gateway,
    log,
    postgres,
    setup_billing,
    source_state,
)
from load import LoadResult, LoadSpec, run_load
from servers import (
    ADMIN_TOKEN,
    BENCH_DIR,
    Server,
    fake_upstream,
)

ROOT = BENCH_DIR.parent
CONCURRENCIES = (1, 16, 64, 256)


@dataclass(frozen=True)
class Side:
    label: str  # "base" or "head"
    src: Path


@dataclass
class Row:
    database: str
    variant: str
    stream: bool
    concurrency: int
    base: list[LoadResult]
    head: list[LoadResult]


@contextlib.contextmanager
def checkout(ref: str) -> Iterator[Path]:
    """``ref`` checked out (detached) in a temporary worktree; removed afterwards."""
    where = Path(tempfile.mkdtemp(prefix="cong-ab-")) / "tree"
    git = ["git", "-C", str(ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", str(where), ref], check=True)
    try:
        yield where
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(where)], check=False)


async def one(gw: Server, token: str, model: str, stream: bool, c: int, n: int) -> LoadResult:
    spec = LoadSpec(
        url=gw.base + "/v1/chat/completions",
        requests=n,
        concurrency=c,
        stream=stream,
        token=token,
        model=model,
        max_seconds=120,
        pids={"gateway": gw.pid},
    )
    return await run_load(spec)


async def compare_on(
    database: str, bases: tuple[Side, Side], upstream: Server, args: argparse.Namespace
) -> list[Row]:
    rows: list[Row] = []
    async with contextlib.AsyncExitStack() as stack:
        urls: list[str | None] = [None, None]
        if database == "postgres":
            urls = [(await stack.enter_async_context(postgres()))[0] for _ in bases]
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        config = config_text(upstream, None)
        gws = [
            await stack.enter_async_context(
                gateway(work, f"gateway-{side.label}", config, url, _env(side))
            )
            for side, url in zip(bases, urls, strict=True)
        ]
        keys = [await setup_billing(gw) for gw in gws]
        for variant in args.variants:
            for stream in (False, True):
                for c in CONCURRENCIES:
                    row = Row(database, variant, stream, c, [], [])
                    for gw, key in zip(gws, keys, strict=True):  # warm-up
                        token, model = _who(variant, key)
                        await one(gw, token, model, stream, c, args.warmup)
                    for r in range(args.repeat):
                        order = (0, 1) if r % 2 == 0 else (1, 0)
                        for i in order:
                            token, model = _who(variant, keys[i])
                            result = await one(gws[i], token, model, stream, c, args.requests)
                            (row.base if i == 0 else row.head).append(result)
                    rows.append(row)
                    log(_line(row))
    return rows


def _env(side: Side) -> dict[str, str]:
    return {"PYTHONPATH": str(side.src), "CONG_MEMORY__DEFAULT_MODE": "off"}


def _who(variant: str, key: str) -> tuple[str, str]:
    return (ADMIN_TOKEN, FREE_MODEL) if variant == "free" else (key, PRICED_MODEL)


def _median(results: list[LoadResult], what: str) -> float:
    values = [r.rps if what == "rps" else r.cpu_ms_per_req("gateway") for r in results]
    return statistics.median(values) if values else 0.0


def _line(row: Row) -> str:
    return "| " + " | ".join(_cells(row)) + " |"


def _cells(row: Row) -> list[str]:
    base_rps, head_rps = _median(row.base, "rps"), _median(row.head, "rps")
    base_cpu, head_cpu = _median(row.base, "cpu"), _median(row.head, "cpu")
    errors = sum(r.errors for r in row.base + row.head)
    return [
        row.database,
        row.variant,
        "stream" if row.stream else "json",
        str(row.concurrency),
        f"{base_rps:.0f}",
        f"{head_rps:.0f}",
        f"{head_rps / base_rps:.2f}" if base_rps else "-",
        f"{base_cpu:.3f}",
        f"{head_cpu:.3f}",
        f"{head_cpu / base_cpu:.2f}" if base_cpu else "-",
        str(errors),
    ]


def report(rows: list[Row], args: argparse.Namespace, context: list[str]) -> str:
    head = [
        "database",
        "variant",
        "mode",
        "c",
        "base rps",
        "head rps",
        "rps head/base",
        "base CPU ms/req",
        "head CPU ms/req",
        "CPU head/base",
        "errors",
    ]
    title = f"# A/B: {args.base} (base) vs {args.head or 'this checkout'} (head)"
    lines = [title, "", *context, ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [_line(row) for row in rows]
    lines += [
        "",
        f"Medians of {args.repeat} runs of {args.requests} requests per cell and side (after "
        f"{args.warmup} warm-up requests), base and head alternating. CPU: user+system of the "
        "`cong serve` process tree over the run.",
    ]
    return "\n".join(lines) + "\n"


async def main_async(args: argparse.Namespace) -> str:
    head_src, _ = source_state()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    context = [
        f"Date: {started}; {os.cpu_count()} cores; load average before: {load}; "
        f"head: {args.head or head_src}; base: {args.base}."
    ]
    with contextlib.ExitStack() as trees:
        base_tree = trees.enter_context(checkout(args.base))
        head_tree = trees.enter_context(checkout(args.head)) if args.head else ROOT
        sides = (Side("base", base_tree / "src"), Side("head", head_tree / "src"))
        work = Path(tempfile.mkdtemp(prefix="cong-ab-up-"))
        async with fake_upstream(work, 3600) as upstream:
            rows: list[Row] = []
            for database in ("sqlite", "postgres") if args.postgres else ("sqlite",):
                rows += await compare_on(database, sides, upstream, args)
    return report(rows, args, context)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="b8c0462", help="the older commit (default: before #8)")
    parser.add_argument("--head", help="a commit to compare instead of this checkout")
    parser.add_argument("--quick", action="store_true", help="300 requests, 1 repeat")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--requests", type=int, default=2000, help="per run (quick: 300)")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=("free", "priced"),
        default=["free", "priced"],
        help="which loads to compare (default: both)",
    )
    args = parser.parse_args(argv)
    args.requests, args.warmup = (300, 60) if args.quick else (args.requests, 200)
    if args.quick:
        args.repeat = 1
    text = uvloop.run(main_async(args))
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()

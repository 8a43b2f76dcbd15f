"""Run the Cổng benchmark and write a markdown report (see bench/README.md).

Starts the fake upstream, the bare proxy and ``python -m cong serve`` (1 worker) on
ephemeral 127.0.0.1 ports, then measures:

1. ``api``: proxy overhead, direct vs bare proxy vs gateway (embedded models off);
2. ``embedded``: chat tokens/s, llama-cpp-python directly vs through the gateway;
3. ``memory``: RSS of the gateway and its model-server child, idle and under load.

Usage: ``.venv/bin/python bench/run_gateway_bench.py [--quick] [--section api|embedded|memory|all]
[--out bench/results.md]``. Every server is stopped at the end, and each has its own
time limit, so nothing outlives a crashed run for long.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.metadata
import os
import platform
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from api_section import FULL_PLAN, QUICK_PLAN, run_api, targets
from embedded_section import FULL_EMBEDDED, QUICK_EMBEDDED, run_embedded, wait_chat
from memory_section import run_memory
from report import Report
from servers import BENCH_DIR, Server, ServerError, bare_proxy, fake_upstream, gateway

SECTIONS = ("api", "embedded", "memory")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def context_lines(args: argparse.Namespace) -> list[str]:
    try:
        version = importlib.metadata.version("cong")
    except importlib.metadata.PackageNotFoundError:
        version = "not installed"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"Machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}",
        f"Load average before the run: {load} (other processes on the box add noise)",
        f"cong {version}; 1 gateway worker; access log off",
        f"Fake upstream: 20 content chunks per stream, {args.token_delay_ms:g} ms between chunks",
        f"Run: `{shlex.join(['.venv/bin/python', 'bench/run_gateway_bench.py', *sys.argv[1:]])}`"
        + (" (quick smoke run: small samples, numbers are indicative only)" if args.quick else ""),
    ]


async def api_section(
    report: Report, work: Path, upstream: Server, args: argparse.Namespace
) -> None:
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    if args.repeat:
        plan = dataclasses.replace(plan, repeat=args.repeat)
    report.context.append(
        f"API section: median of {plan.repeat} run(s) per cell (by rps), targets interleaved"
    )
    async with contextlib.AsyncExitStack() as stack:
        proxy = await stack.enter_async_context(bare_proxy(work, upstream, args.cap))
        gw: Server | None = None
        try:
            gw = await stack.enter_async_context(
                gateway(work, upstream, models=False, threads=args.threads, wait_s=60)
            )
        except ServerError as exc:
            report.failures["gateway start (api section)"] = str(exc)
            log(f"gateway did not start; measuring direct and bare proxy only\n{exc}")
        log("section 1: API overhead")
        report.api = await run_api(targets(upstream, proxy, gw), plan, log)


async def model_sections(
    report: Report, work: Path, upstream: Server, args: argparse.Namespace, wanted: set[str]
) -> None:
    plan = QUICK_EMBEDDED if args.quick else FULL_EMBEDDED
    try:
        async with gateway(work, upstream, models=True, threads=args.threads, wait_s=300) as gw:
            await wait_chat(gw, 300)
            if "embedded" in wanted:
                log("section 2: embedded chat tokens/s")
                try:
                    report.embedded = await run_embedded(gw, plan, log)
                    write(report, args.out, final=False)
                except RuntimeError as exc:
                    report.failures["embedded section"] = str(exc)
            if "memory" in wanted:
                log("section 3: memory")
                report.memory = await run_memory(gw, plan, args.quick, log)
    except (ServerError, RuntimeError) as exc:
        report.failures["gateway with embedded models"] = str(exc)
        log(f"gateway with embedded models failed\n{exc}")


def write(report: Report, out: Path, final: bool) -> str:
    text = report.markdown()
    if not final:
        text += "\n_Partial: the run is still going (or was interrupted)._\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


async def bench(args: argparse.Namespace) -> Report:
    """All wanted sections; the report is rewritten after each, so a cut run keeps its part."""
    task = asyncio.current_task()
    if task is not None:  # SIGTERM unwinds like Ctrl-C: every server gets stopped
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    wanted = set(SECTIONS) if args.section == "all" else {args.section}
    report = Report(context_lines(args))
    with tempfile.TemporaryDirectory(prefix="cong-bench-") as tmp:
        work = Path(tmp)
        async with fake_upstream(work, args.cap, args.token_delay_ms) as upstream:
            if "api" in wanted:
                await api_section(report, work, upstream, args)
                write(report, args.out, final=False)
            if wanted & {"embedded", "memory"}:
                await model_sections(report, work, upstream, args, wanted)
    report.context.append(
        "Load average after the run: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--section", choices=(*SECTIONS, "all"), default="all")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results.md")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (both sides)")
    parser.add_argument(
        "--repeat", type=int, default=0, help="API runs per cell (default 3, quick 1)"
    )
    parser.add_argument(
        "--token-delay-ms",
        type=float,
        default=0.0,
        help="fake upstream pause between stream chunks (0 = as fast as possible)",
    )
    parser.add_argument(
        "--cap", type=float, default=3600.0, help="seconds before helper servers stop themselves"
    )
    args = parser.parse_args(argv)
    try:
        report = uvloop.run(bench(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log(f"interrupted: servers stopped; finished sections (if any) are in {args.out}")
        raise SystemExit(130) from None
    print(write(report, args.out, final=True))
    log(f"written to {args.out}")


if __name__ == "__main__":
    main()

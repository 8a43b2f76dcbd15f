"""Section 3: resident memory of the gateway process and its model-server child.

Sampled (psutil RSS, every 0.25 s) idle after start-up, during API load through the fake
upstream (c=64, non-stream), during embedded chat load (c=8), and idle again afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

from embedded_section import EmbeddedPlan, gateway_spec
from load import LoadSpec, run_load
from meter import rss_mb
from servers import ADMIN_TOKEN, Server


@dataclass
class MemoryRow:
    state: str
    gateway_mb: float
    children_mb: float


@dataclass
class MemoryResult:
    rows: list[MemoryRow] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


def describe_children(pid: int) -> list[str]:
    described: list[str] = []
    with contextlib.suppress(psutil.NoSuchProcess):
        for child in psutil.Process(pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                cmd = " ".join(child.cmdline()[1:3])
                described.append(f"pid {child.pid}: {cmd}")
    return described


async def idle_row(state: str, gateway: Server, settle_s: float) -> MemoryRow:
    await asyncio.sleep(settle_s)
    own, children = rss_mb(gateway.pid)
    return MemoryRow(state, own, children)


async def run_memory(
    gateway: Server, plan: EmbeddedPlan, quick: bool, log: Callable[[str], None]
) -> MemoryResult:
    result = MemoryResult(children=describe_children(gateway.pid))
    result.rows.append(await idle_row("idle (after start-up)", gateway, 2.0))
    api = LoadSpec(
        gateway.base + "/v1/chat/completions",
        800 if quick else 5000,
        64,
        token=ADMIN_TOKEN,
        max_seconds=60.0,
        pids={"server": gateway.pid},
    )
    loaded = await run_load(api)
    log(f"  api load: {loaded.summary()}")
    usage = loaded.servers["server"]
    result.rows.append(
        MemoryRow("peak, API load c=64", usage.peak_rss_mb, usage.peak_children_rss_mb)
    )
    chat = await run_load(gateway_spec(gateway, plan, 8, 8))
    log(f"  chat load: {chat.summary()}")
    usage = chat.servers["server"]
    result.rows.append(
        MemoryRow("peak, embedded chat c=8", usage.peak_rss_mb, usage.peak_children_rss_mb)
    )
    result.rows.append(await idle_row("idle (after load)", gateway, 2.0))
    return result

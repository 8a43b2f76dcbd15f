"""The latency that memory retrieval + injection adds to a chat request in ``full``
mode, measured through ``cong.memory.store.Memories`` (the request path's code) on a
user with many memories; part of bench/memory_retrieval.py."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Awaitable, Callable

import numpy as np

from cong.memory.store import Memories
from cong.settings import MemorySettings
from cong.storage import memories as memory_queries
from cong.storage.database import Database

TOP_K = 6  # as the gateway's default memory.top_k
BUDGET = 400  # as the gateway's default memory.inject_tokens
FLOOR = MemorySettings().min_similarity  # as the gateway's default memory.min_similarity
BASELINE = "one indexed database read (baseline)"
COLD_ROUNDS = 5
AFTER_WRITE = "first request after a write (the written row merged in)"
COLD = "first request of the user in a process (all rows read, index built)"
PYTORCH = 'query embedding on PyTorch (model_server.onnx_cache = ""; comparison)'
Embed = Callable[[list[str]], Awaitable[object]]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


async def _revision_read(db: Database, user_id: int) -> None:
    async with db.session() as session:
        await memory_queries.state(session, user_id)


async def latency(
    db: Database,
    memories: Memories,
    fresh: Callable[[], Memories],
    user_id: int,
    queries: list[str],
    vectors: np.ndarray,
    rounds: int,
    on_pytorch: Embed | None = None,
) -> tuple[dict[str, tuple[float, float]], str]:
    """p50 and p95 (ms) of each step, and the load average while they were measured.
    ``on_pytorch``: the same model kept on PyTorch, its query embedding timed alongside."""
    timings: dict[str, list[float]] = {
        BASELINE: [],
        "query embedding (in process)": [],
        "retrieval + injection, question's vector given": [],
        "retrieval + injection with the embedding (the whole memory step)": [],
        AFTER_WRITE: [],
        COLD: [],
        PYTORCH: [],
    }
    started = load_average()
    await memories.for_prompt(
        user_id, queries[0], TOP_K, BUDGET, min_similarity=FLOOR
    )  # builds the index once
    for _ in range(rounds):
        for index, query in enumerate(queries):
            t0 = time.perf_counter()
            await _revision_read(db, user_id)
            t1 = time.perf_counter()
            await memories.embed([query])
            t2 = time.perf_counter()
            await memories.for_prompt(user_id, query, TOP_K, BUDGET, vectors[index], FLOOR)
            t3 = time.perf_counter()
            await memories.for_prompt(user_id, query, TOP_K, BUDGET, min_similarity=FLOOR)
            t4 = time.perf_counter()
            for name, spent in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=False):
                timings[name].append(spent * 1000)

    for index in range(COLD_ROUNDS):
        # A write (what "remember …" or an extracted fact does), then the next request.
        await memories.add(user_id, f"bench note {index}", vector=vectors[index])
        t0 = time.perf_counter()
        await memories.for_prompt(user_id, queries[index], TOP_K, BUDGET, vectors[index], FLOOR)
        timings[AFTER_WRITE].append((time.perf_counter() - t0) * 1000)
        # A process that has not seen the user yet reads all their memories.
        process = fresh()
        t0 = time.perf_counter()
        await process.for_prompt(user_id, queries[index], TOP_K, BUDGET, vectors[index], FLOOR)
        timings[COLD].append((time.perf_counter() - t0) * 1000)
        await process.close()
    if on_pytorch is not None:  # last: its OpenMP threads spin on after each call
        for _ in range(rounds):
            for query in queries:
                t0 = time.perf_counter()
                await on_pytorch([query])
                timings[PYTORCH].append((time.perf_counter() - t0) * 1000)
    ended = load_average()
    out = {name: (statistics.median(v), pct(v, 0.95)) for name, v in timings.items() if v}
    return out, f"load average (1 / 5 / 15 min) {started} before, {ended} after"


def table(times: dict[str, tuple[float, float]]) -> list[str]:
    base = times[BASELINE][1]
    lines = ["| step | p50 | p95 | p95 / baseline p95 |", "|---|---|---|---|"]
    for name, (p50, p95) in times.items():
        lines.append(f"| {name} | {p50:.2f} | {p95:.2f} | {p95 / base:.1f}x |")
    return lines

"""Section 2: embedded chat tokens/s, llama-cpp-python called directly vs through the gateway.

Direct: ``llama_direct.py`` in its own process, requests one after another (a single
``Llama`` serialises them; the model server batches concurrent requests, so at
concurrency 8 it may pass this baseline).
Gateway: the same prompt, max_tokens, temperature 0 and thread count, as
``smollm2-135m-instruct`` through ``cong serve`` with its model server, at concurrency 1 and 8.
tokens/s = completion tokens (from each response's usage) / wall-clock time of the batch.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import orjson

from load import LoadResult, LoadSpec, run_load
from meter import DISTURBED_CORES
from servers import ADMIN_TOKEN, BENCH_DIR, Server

CHAT_MODEL = "smollm2-135m-instruct"
PROMPT = "Write a long story about a lighthouse keeper and the sea."


@dataclass(frozen=True)
class EmbeddedPlan:
    requests: dict[int, int]
    max_tokens: int
    threads: int
    context_size: int
    max_seconds: float
    rounds: int  # at most this many (direct, gateway) pairs, until both ran undisturbed


FULL_EMBEDDED = EmbeddedPlan({1: 4, 8: 8}, 128, 2, 8192, 600.0, 3)
QUICK_EMBEDDED = EmbeddedPlan({1: 2, 8: 8}, 32, 2, 8192, 180.0, 1)


@dataclass(frozen=True)
class DirectRun:
    tokens: int
    tps: float
    other_cores: float


@dataclass
class EmbeddedRow:
    concurrency: int
    direct: DirectRun
    gateway: LoadResult

    @property
    def gateway_tps(self) -> float:
        return tokens_per_s(self.gateway)

    @property
    def ratio(self) -> float | None:
        return self.gateway_tps / self.direct.tps if self.direct.tps else None

    @property
    def disturbed(self) -> bool:
        # llama.cpp's threads wait for each other: a process taking a core slows it a lot
        return max(self.direct.other_cores, self.gateway.other_cores) > DISTURBED_CORES


def tokens_per_s(result: LoadResult) -> float:
    return result.completion_tokens / result.wall_s if result.wall_s > 0 else 0.0


async def direct_run(plan: EmbeddedPlan, requests: int) -> DirectRun:
    """``llama_direct.py`` for this many requests."""
    cmd = [sys.executable, str(BENCH_DIR / "llama_direct.py"), "--prompt", PROMPT]
    cmd += ["--requests", str(requests), "--max-tokens", str(plan.max_tokens)]
    cmd += ["--threads", str(plan.threads), "--context-size", str(plan.context_size)]
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), plan.max_seconds)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError("llama_direct.py timed out") from None
    if proc.returncode != 0:
        raise RuntimeError(f"llama_direct.py failed: {err.decode(errors='replace')[-2000:]}")
    result = orjson.loads(out.strip().splitlines()[-1])
    return DirectRun(
        int(result["completion_tokens"]),
        float(result["tokens_per_s"]),
        float(result["other_cores"]),
    )


async def wait_chat(gateway: Server, wait_s: float) -> None:
    """Until the embedded chat model answers (the gateway is healthy before it has loaded)."""
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    deadline = time.monotonic() + wait_s
    last = "no answer"
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            url = gateway.base + "/v1/chat/completions"
            try:
                async with session.post(url, json=body, headers=headers) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}: {(await resp.text())[:300]}"
            except aiohttp.ClientError as exc:
                last = repr(exc)
            await asyncio.sleep(1.0)
    raise RuntimeError(f"embedded chat model not ready: {last}\n{gateway.log_tail()}")


def gateway_spec(gateway: Server, plan: EmbeddedPlan, concurrency: int, n: int) -> LoadSpec:
    return LoadSpec(
        gateway.base + "/v1/chat/completions",
        n,
        concurrency,
        token=ADMIN_TOKEN,
        model=CHAT_MODEL,
        prompt=PROMPT,
        max_tokens=plan.max_tokens,
        temperature=0.0,
        max_seconds=plan.max_seconds,
        pids={"server": gateway.pid},
        collect_usage=True,
    )


async def run_embedded(
    gateway: Server, plan: EmbeddedPlan, log: Callable[[str], None]
) -> list[EmbeddedRow]:
    """Per concurrency, alternate direct and gateway batches (up to ``plan.rounds`` pairs,
    stopping once each side had an undisturbed one) and keep each side's best tokens/s."""
    rows: list[EmbeddedRow] = []
    for concurrency, n in plan.requests.items():
        directs: list[DirectRun] = []
        gateways: list[LoadResult] = []
        for _ in range(plan.rounds):
            direct = await direct_run(plan, n)
            directs.append(direct)
            log(f"  direct   c={concurrency} {direct.tokens} tokens {direct.tps:.1f} tokens/s "
                f"other={direct.other_cores:.2f} cores")  # fmt: skip
            result = await run_load(gateway_spec(gateway, plan, concurrency, n))
            gateways.append(result)
            log(f"  gateway  c={concurrency} {result.completion_tokens} tokens "
                f"{tokens_per_s(result):.1f} tokens/s other={result.other_cores:.2f} cores "
                f"errors={result.error_kinds or 0}")  # fmt: skip
            calm_direct = any(d.other_cores <= DISTURBED_CORES for d in directs)
            calm_gateway = any(g.other_cores <= DISTURBED_CORES for g in gateways)
            if calm_direct and calm_gateway:
                break
        best_direct = max(directs, key=lambda d: d.tps)
        best_gateway = max(gateways, key=lambda g: (g.errors == 0, tokens_per_s(g)))
        rows.append(EmbeddedRow(concurrency, best_direct, best_gateway))
    return rows

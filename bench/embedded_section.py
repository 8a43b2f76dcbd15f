"""Section 2: embedded chat tokens/s, llama-cpp-python called directly vs through the gateway.

Direct: ``llama_direct.py`` in its own process, requests one after another (a single
``Llama`` serialises them; that is the ceiling the model server can reach on these cores).
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


FULL_EMBEDDED = EmbeddedPlan({1: 4, 8: 16}, 128, 2, 8192, 600.0)
QUICK_EMBEDDED = EmbeddedPlan({1: 2, 8: 8}, 32, 2, 8192, 180.0)


@dataclass
class EmbeddedRow:
    concurrency: int
    direct_tokens: int
    direct_tps: float
    gateway: LoadResult

    @property
    def gateway_tps(self) -> float:
        wall = self.gateway.wall_s
        return self.gateway.completion_tokens / wall if wall > 0 else 0.0

    @property
    def ratio(self) -> float | None:
        return self.gateway_tps / self.direct_tps if self.direct_tps else None


async def direct_tps(plan: EmbeddedPlan, requests: int) -> tuple[int, float]:
    """(completion tokens, tokens/s) of ``llama_direct.py`` for this many requests."""
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
    return int(result["completion_tokens"]), float(result["tokens_per_s"])


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
    rows: list[EmbeddedRow] = []
    for concurrency, n in plan.requests.items():
        tokens, tps = await direct_tps(plan, n)
        log(f"  direct   c={concurrency} {tokens} tokens {tps:.1f} tokens/s")
        result = await run_load(gateway_spec(gateway, plan, concurrency, n))
        row = EmbeddedRow(concurrency, tokens, tps, result)
        tokens_line = f"{result.completion_tokens} tokens {row.gateway_tps:.1f} tokens/s"
        log(f"  gateway  c={concurrency} {tokens_line} errors={result.error_kinds or 0}")
        rows.append(row)
    return rows

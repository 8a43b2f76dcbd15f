"""Load generator: N chat requests at concurrency C over raw keep-alive HTTP/1.1 connections.

The client is an asyncio Protocol with httptools' response parser on uvloop (aiohttp's
client costs several times more CPU per request, which matters on a 2-core box where the
generator shares the CPUs with the servers it measures). Its own CPU time is reported so the
reader can tell whether it was the bottleneck.

Each of the C connections is opened before the clock starts, then sends its requests one
after another until N have been sent or ``--max-seconds`` has passed (requests still running
then count as timeouts). Latency is from writing the request to the end of the response
(stream: also to the first body byte). CPU of the servers named by ``--pid name=PID`` (each
with its children) is measured over the same window.

Run: ``python bench/load.py http://127.0.0.1:PORT/v1/chat/completions -n 2000 -c 64 --stream``
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import cast
from urllib.parse import urlsplit

import httptools
import orjson
import uvloop

from meter import ProcessMeter, Usage

DEFAULT_PROMPT = "Write one friendly sentence about the sea."


@dataclass(frozen=True)
class LoadSpec:
    url: str
    requests: int
    concurrency: int
    stream: bool = False
    token: str = "sk-fake"
    model: str = "fake-model"
    prompt: str = DEFAULT_PROMPT
    max_tokens: int | None = None
    temperature: float | None = None
    max_seconds: float = 60.0
    pids: dict[str, int] = field(default_factory=dict)
    collect_usage: bool = False
    # What a complete answer holds: in a stream's last event, in a JSON answer.
    stream_end: bytes = b"data: [DONE]"
    answer_marker: bytes = b'"choices"'

    def request_bytes(self) -> bytes:
        parts = urlsplit(self.url)
        body: dict[str, object] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": self.prompt},
            ],
        }
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        payload = orjson.dumps(body)
        head = (
            f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Accept: {'text/event-stream' if self.stream else 'application/json'}\r\n"
            f"User-Agent: cong-bench/1\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        return head.encode() + payload


@dataclass
class Reply:
    status: int
    body: bytes
    first_byte: float
    keep_alive: bool


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Reply] | None = None
        self.chunks: list[bytes] = []
        self.first_byte = 0.0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(ConnectionError(f"bad response: {exc}"))

    def on_body(self, body: bytes) -> None:
        if not self.chunks:
            self.first_byte = time.perf_counter()
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            reply = Reply(
                self.parser.get_status_code(),
                b"".join(self.chunks),
                self.first_byte or time.perf_counter(),
                self.parser.should_keep_alive(),
            )
            self.waiter.set_result(reply)

    def fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()
        self.closed = True

    async def request(self, data: bytes) -> Reply:
        assert self.transport is not None and not self.closed
        self.chunks = []
        self.first_byte = 0.0
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(url: str) -> Connection:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    host = parts.hostname or "127.0.0.1"
    _, conn = await loop.create_connection(Connection, host, parts.port or 80)
    return conn


def completion_tokens(body: bytes, stream: bool) -> int:
    """``usage.completion_tokens`` of a completion, or of a stream's usage chunk (0 if none)."""
    if not stream:
        usage = orjson.loads(body).get("usage") or {}
        return int(usage.get("completion_tokens") or 0)
    for line in reversed(body.split(b"\n")):
        if line.startswith(b"data: {") and b'"usage":{' in line:
            usage = orjson.loads(line[6:]).get("usage") or {}
            return int(usage.get("completion_tokens") or 0)
    return 0


def reply_error(reply: Reply, spec: LoadSpec) -> str | None:
    """Why a reply does not count as a success (None if it does)."""
    if reply.status != 200:
        return f"http_{reply.status}"
    if spec.stream and spec.stream_end not in reply.body.rstrip().rsplit(b"\n\n", 1)[-1]:
        return "stream_incomplete"
    if not spec.stream and spec.answer_marker not in reply.body:
        return "no_choices"
    return None


@dataclass
class Recorder:
    latencies: list[float] = field(default_factory=list)
    first_bytes: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    events: int = 0
    tokens: int = 0
    sent: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def worker(spec: LoadSpec, conn: Connection | None, data: bytes, rec: Recorder) -> None:
    while rec.sent < spec.requests:
        rec.sent += 1
        start = time.perf_counter()
        try:
            if conn is None or conn.closed:
                conn = await connect(spec.url)
            reply = await conn.request(data)
        except OSError as exc:
            rec.error(type(exc).__name__)
            conn = None
            continue
        end = time.perf_counter()
        if not reply.keep_alive:
            conn.close()
            conn = None
        kind = reply_error(reply, spec)
        if kind is not None:
            rec.error(kind)
            continue
        rec.latencies.append(end - start)
        rec.first_bytes.append(reply.first_byte - start)
        if spec.stream:
            rec.events += reply.body.count(b"data: ")
        if spec.collect_usage:
            rec.tokens += completion_tokens(reply.body, spec.stream)
    if conn is not None:
        conn.close()


def percentile(ordered: list[float], q: float) -> float:
    """Linear-interpolated percentile of an already sorted list (0 if empty)."""
    if not ordered:
        return 0.0
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass
class LoadResult:
    url: str
    stream: bool
    concurrency: int
    requests: int
    ok: int
    errors: int
    error_kinds: dict[str, int]
    wall_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    ttfb_p50_ms: float
    events_per_ok: float
    completion_tokens: int
    gen_cpu_ms_per_req: float
    gen_cpu_util: float
    servers: dict[str, Usage]
    other_cores: float
    steal_cores: float

    def cpu_ms_per_req(self, name: str) -> float:
        usage = self.servers.get(name)
        return usage.cpu_s * 1000 / self.ok if usage and self.ok else 0.0

    def summary(self) -> str:
        mode = "stream" if self.stream else "json"
        line = (
            f"{mode} c={self.concurrency} ok={self.ok}/{self.requests} err={self.errors} "
            f"rps={self.rps:.0f} p50={self.p50_ms:.2f}ms p90={self.p90_ms:.2f}ms "
            f"p99={self.p99_ms:.2f}ms gen_cpu={self.gen_cpu_ms_per_req:.3f}ms/req "
            f"({self.gen_cpu_util:.0%} of a core)"
        )
        for name, usage in self.servers.items():
            line += f" {name}_cpu={self.cpu_ms_per_req(name):.3f}ms/req"
            line += f" {name}_rss={usage.peak_rss_mb:.0f}MB"
        line += f" other={self.other_cores:.2f} cores"
        if self.error_kinds:
            line += f" kinds={self.error_kinds}"
        return line


async def run_load(spec: LoadSpec) -> LoadResult:
    """Run one measured load; see the module docstring."""
    data = spec.request_bytes()
    rec = Recorder()
    n_conns = max(1, min(spec.concurrency, spec.requests))
    opened = await asyncio.gather(*(connect(spec.url) for _ in range(n_conns)))
    meter = ProcessMeter(spec.pids)
    meter.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    tasks = [asyncio.ensure_future(worker(spec, conn, data, rec)) for conn in opened]
    _, pending = await asyncio.wait(tasks, timeout=spec.max_seconds)
    wall = time.perf_counter() - wall0
    gen_cpu = time.process_time() - cpu0
    servers = await meter.stop()
    # CPU the machine spent meanwhile on anything but this generator and the measured servers
    other_s = meter.machine_busy_s - gen_cpu - sum(u.window_cpu_s for u in servers.values())
    other_cores = max(0.0, other_s) / wall if wall > 0 else 0.0
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for conn in opened:
        conn.close()
    if pending:
        rec.error("timeout")
        rec.errors["timeout"] += len(pending) - 1
    if rec.sent < spec.requests:
        rec.errors["not_sent"] = spec.requests - rec.sent
    lat = sorted(rec.latencies)
    ok = len(lat)
    return LoadResult(
        url=spec.url,
        stream=spec.stream,
        concurrency=spec.concurrency,
        requests=spec.requests,
        ok=ok,
        errors=sum(rec.errors.values()),
        error_kinds=rec.errors,
        wall_s=wall,
        rps=ok / wall if wall > 0 else 0.0,
        p50_ms=percentile(lat, 0.5) * 1000,
        p90_ms=percentile(lat, 0.9) * 1000,
        p99_ms=percentile(lat, 0.99) * 1000,
        ttfb_p50_ms=percentile(sorted(rec.first_bytes), 0.5) * 1000,
        events_per_ok=rec.events / ok if ok else 0.0,
        completion_tokens=rec.tokens,
        gen_cpu_ms_per_req=gen_cpu * 1000 / max(ok, 1),
        gen_cpu_util=gen_cpu / wall if wall > 0 else 0.0,
        servers=servers,
        other_cores=other_cores,
        steal_cores=meter.steal_s / wall if wall > 0 else 0.0,
    )


def _pid_arg(text: str) -> tuple[str, int]:
    name, _, pid = text.rpartition("=")
    return (name or "server"), int(pid)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url", help="e.g. http://127.0.0.1:8000/v1/chat/completions")
    parser.add_argument("-n", "--requests", type=int, default=1000)
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--token", default="sk-fake")
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="wall-clock cap")
    parser.add_argument("--pid", action="append", type=_pid_arg, default=[], metavar="NAME=PID")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    spec = LoadSpec(
        url=args.url,
        requests=args.requests,
        concurrency=args.concurrency,
        stream=args.stream,
        token=args.token,
        model=args.model,
        max_tokens=args.max_tokens,
        max_seconds=args.max_seconds,
        pids=dict(args.pid),
    )
    result = uvloop.run(run_load(spec))
    print(orjson.dumps(asdict(result)).decode() if args.json else result.summary())


if __name__ == "__main__":
    main()

"""``cong serve`` stopped with SIGTERM while streams are in flight: readiness turns 503,
new requests are refused, a stream that ends within ``server.drain_seconds`` completes,
one still open then gets an SSE error event and ``[DONE]``, each is settled once in the
usage log, and the process exits 0."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.fakes.openai_upstream import Recorder, create_fake_openai
from tests.support.processes import ServeProcess
from tests.support.servers import ServerThread

TOKEN = "sk-drain-test-admin-token"
DRAIN_SECONDS = 3.0


def _stream(url: str, model: str, out: dict[str, Any]) -> None:
    body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream(
        "POST",
        url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {TOKEN}"},
        timeout=60,
    ) as response:
        out["status"] = response.status_code
        out["request_id"] = response.headers.get("x-request-id")
        out["events"] = []
        for line in response.iter_lines():
            if line.startswith("data: "):
                out["events"].append(line[6:])
                out["first"] = True


def test_sigterm_drains_streams_then_exits_cleanly(tmp_path: Path) -> None:
    recorder = Recorder()
    with ServerThread(create_fake_openai(recorder)) as upstream:
        upstreams = [
            {
                "name": "fake",
                "base_url": upstream.url + "/v1",
                "api_key": "sk-upstream",
                "models": ["fake-slow", "fake-late"],
            }
        ]
        env = {
            "CONG_DATA_DIR": str(tmp_path / "data"),
            "CONG_ADMIN_TOKEN": TOKEN,
            "CONG_UPSTREAMS": json.dumps(upstreams),
            "CONG_SERVER__DRAIN_SECONDS": str(DRAIN_SECONDS),
        }
        server = ServeProcess(tmp_path, env, "--no-model-server")
        try:
            server.wait_healthy()
            assert httpx.get(server.url + "/api/ready").status_code == 200
            long: dict[str, Any] = {}
            short: dict[str, Any] = {}
            threads = [
                threading.Thread(target=_stream, args=(server.url, "fake-slow", long)),
                threading.Thread(target=_stream, args=(server.url, "fake-late", short)),
            ]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 20
            # Both are in flight: the upstream has them (the late one answers after 1 s).
            while (
                not long.get("first") or len(recorder.requests) < 2
            ) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert long.get("first") and len(recorder.requests) == 2, server.output

            os.kill(server.process.pid, signal.SIGTERM)
            time.sleep(0.3)
            ready = httpx.get(server.url + "/api/ready")
            refused = httpx.post(
                server.url + "/v1/chat/completions",
                json={"model": "fake-late", "messages": [{"role": "user", "content": "x"}]},
                headers={"authorization": f"Bearer {TOKEN}"},
            )
            alive = httpx.get(server.url + "/api/health")
            for thread in threads:
                thread.join(timeout=30)
            code = server.process.wait(timeout=30)
        finally:
            server.stop()
    assert ready.status_code == 503
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "shutting_down"
    assert alive.status_code == 200
    # The short stream finished inside the drain time: a normal end.
    assert short["status"] == 200 and short["events"][-1] == "[DONE]"
    assert "error" not in short["events"][-2]
    # The long one (10 s) was ended at the drain deadline with an error event.
    assert long["status"] == 200 and long["events"][-1] == "[DONE]"
    assert json.loads(long["events"][-2])["error"]["code"] == "shutting_down"
    assert 3 < len(long["events"]) < 45
    assert code == 0, server.output
    # Each stream is settled exactly once, and the usage log was flushed before exit.
    with sqlite3.connect(tmp_path / "data" / "cong.db") as db:
        rows = db.execute("SELECT request_id, end_reason FROM usage_logs").fetchall()
    ids = [r[0] for r in rows]
    assert ids.count(long["request_id"]) == 1, rows
    assert ids.count(short["request_id"]) == 1, rows


WORKER_DRAIN_SECONDS = 8.0
SHORT_CHUNKS = 25  # 5 s: ends inside the drain time
LONG_CHUNKS = 150  # 30 s: cut at its end


def _paced(url: str, chunks: int, out: dict[str, Any]) -> None:
    """One ``fake-paced`` stream; ``out["port"]`` is the client's port once it is open."""
    body = {"model": "fake-paced", "stream": True,
            "messages": [{"role": "user", "content": str(chunks)}]}  # fmt: skip
    with httpx.stream(
        "POST",
        url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {TOKEN}"},
        timeout=90,
    ) as response:
        out["status"] = response.status_code
        out["request_id"] = response.headers.get("x-request-id")
        out["port"] = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        out["events"] = []
        for line in response.iter_lines():
            if line.startswith("data: "):
                out["events"].append(line[6:])


def _worker_of(server_pid: int, server_port: int, client_port: int) -> int | None:
    """The pid of the gateway worker holding the connection from ``client_port``."""
    family = [server_pid, *(p.pid for p in psutil.Process(server_pid).children(recursive=True))]
    for pid in family:
        try:
            connections = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.Error:
            continue
        for c in connections:
            if c.laddr and c.raddr and (c.laddr.port, c.raddr.port) == (server_port, client_port):
                return pid
    return None


class _Streams:
    """Streams opened one by one until every worker serves one of each length."""

    def __init__(self, server: ServeProcess) -> None:
        self.server = server
        self.threads: list[threading.Thread] = []
        self.short: list[dict[str, Any]] = []
        self.long: list[dict[str, Any]] = []

    def open(self, chunks: int) -> int:
        out: dict[str, Any] = {"chunks": chunks}
        (self.short if chunks == SHORT_CHUNKS else self.long).append(out)
        thread = threading.Thread(target=_paced, args=(self.server.url, chunks, out))
        thread.start()
        self.threads.append(thread)
        deadline = time.monotonic() + 20
        while "port" not in out and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "port" in out, self.server.output
        pid = _worker_of(self.server.process.pid, self.server.port, out["port"])
        assert pid is not None and pid != self.server.process.pid, self.server.output
        out["worker"] = pid
        return pid

    def spread(self, workers: int) -> None:
        for chunks in (LONG_CHUNKS, SHORT_CHUNKS):
            seen: set[int] = set()
            while len(seen) < workers:
                assert len(self.threads) < 40, "connections never reached every worker"
                seen.add(self.open(chunks))


@pytest.mark.parametrize("signalled", ["parent", "process group"])
def test_sigterm_drains_every_worker(tmp_path: Path, signalled: str) -> None:
    """``--workers 2``: streams in flight on both workers; SIGTERM to the parent (what
    ``kill`` or ``docker stop`` sends) or to the whole process group (a terminal's
    Ctrl+C, systemd's default) drains both the same way."""
    recorder = Recorder()
    with ServerThread(create_fake_openai(recorder)) as upstream:
        upstreams = [{"name": "fake", "base_url": upstream.url + "/v1",
                      "api_key": "sk-upstream", "models": ["fake-paced"]}]  # fmt: skip
        env = {
            "CONG_DATA_DIR": str(tmp_path / "data"),
            "CONG_ADMIN_TOKEN": TOKEN,
            "CONG_UPSTREAMS": json.dumps(upstreams),
            "CONG_SERVER__DRAIN_SECONDS": str(WORKER_DRAIN_SECONDS),
            "CONG_WORKERS": "2",
        }
        server = ServeProcess(tmp_path, env, "--no-model-server")
        streams = _Streams(server)
        try:
            server.wait_healthy()
            streams.spread(workers=2)
            workers = {out["worker"] for out in streams.short + streams.long}
            signalled_at = time.monotonic()
            if signalled == "parent":
                os.kill(server.process.pid, signal.SIGTERM)
            else:
                os.killpg(server.process.pid, signal.SIGTERM)
            time.sleep(0.5)
            # New connections land on either worker: every one answers as draining.
            ready = [httpx.get(server.url + "/api/ready").status_code for _ in range(6)]
            refused = [
                httpx.post(
                    server.url + "/v1/chat/completions",
                    json={"model": "fake-paced", "messages": [{"role": "user", "content": "1"}]},
                    headers={"authorization": f"Bearer {TOKEN}"},
                )
                for _ in range(6)
            ]
            alive = [httpx.get(server.url + "/api/health").status_code for _ in range(6)]
            for thread in streams.threads:
                thread.join(timeout=60)
            code = server.process.wait(timeout=60)
            took = time.monotonic() - signalled_at
        finally:
            server.stop()
    assert len(workers) == 2
    assert set(ready) == {503}
    assert {r.status_code for r in refused} == {503}
    assert {r.json()["error"]["code"] for r in refused} == {"shutting_down"}
    assert set(alive) == {200}
    for out in streams.short:  # ended inside the drain time, on both workers: normal ends
        assert out["status"] == 200 and out["events"][-1] == "[DONE]", out
        assert "error" not in out["events"][-2], out
        assert len(out["events"]) == SHORT_CHUNKS + 3, out  # role, pieces, stop, [DONE]
    for out in streams.long:  # cut at the drain deadline with the error event
        assert out["status"] == 200 and out["events"][-1] == "[DONE]", out
        assert json.loads(out["events"][-2])["error"]["code"] == "shutting_down", out
        assert 3 < len(out["events"]) < LONG_CHUNKS, out
    assert code == 0, server.output
    assert WORKER_DRAIN_SECONDS - 1 < took < WORKER_DRAIN_SECONDS + 15, server.output
    # Every stream of every worker settled exactly once, the usage logs flushed.
    with sqlite3.connect(tmp_path / "data" / "cong.db") as db:
        rows = db.execute("SELECT request_id, end_reason FROM usage_logs").fetchall()
    ids = [r[0] for r in rows]
    for out in streams.short + streams.long:
        seen = {k: v for k, v in out.items() if k != "events"} | {"events": len(out["events"])}
        assert ids.count(out["request_id"]) == 1, (seen, rows, server.output)

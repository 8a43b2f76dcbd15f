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

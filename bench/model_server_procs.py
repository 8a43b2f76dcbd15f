"""Start and stop the two servers ``model_server_bench.py`` compares (own process group
each, ``127.0.0.1``, a free port, stopped with SIGTERM then SIGKILL)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

MODEL_ID = "smollm2-135m-instruct"
KEY = "bench-model-server-key"


@dataclass
class Engine:
    name: str
    url: str
    model: str
    process: subprocess.Popen[bytes]
    log: Path
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            for _ in range(100):
                if self.process.poll() is not None:
                    return
                await asyncio.sleep(0.1)
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    log = Path(tempfile.mkstemp(prefix="model-server-bench-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    return process, log


async def _wait_ready(engine: Engine) -> Engine:
    deadline = time.monotonic() + 180
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if engine.process.poll() is not None:
                break
            try:
                async with session.get(engine.url + "/health", headers=engine.headers) as r:
                    if r.status == 200:
                        return engine
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    await engine.stop()
    raise RuntimeError(f"{engine.name} did not start:\n{engine.log.read_text()[-3000:]}")


async def start_model_server(binary: Path, model: str, plan: argparse.Namespace) -> Engine:
    port = free_port()
    command = [sys.executable, "-m", "cong.modelserver", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-embeddings", "--chat-model-path", model, "--threads", str(plan.threads)]
    command += ["--parallel", str(plan.parallel), "--context-size", str(plan.context)]
    command += ["--kv-cache-tokens", str(plan.kv), "--max-queue", "64"]
    env = {**os.environ, "CONG_MODEL_SERVER_KEY": KEY, "HF_HUB_OFFLINE": "1"}
    process, log = _spawn(command, env)
    engine = Engine("cong", f"http://127.0.0.1:{port}", MODEL_ID, process, log,
                    {"Authorization": f"Bearer {KEY}"})  # fmt: skip
    return await _wait_ready(engine)


async def start_llama_server(binary: Path, model: str, plan: argparse.Namespace) -> Engine:
    port = free_port()
    command = [str(binary), "-m", model, "--host", "127.0.0.1", "--port", str(port)]
    command += ["-t", str(plan.threads), "-tb", str(plan.threads), "-np", str(plan.parallel)]
    command += ["-c", str(plan.kv), "-b", "512", "-ub", "512", "--no-webui", "-a", MODEL_ID]
    process, log = _spawn(command)
    engine = Engine("llama-server", f"http://127.0.0.1:{port}", MODEL_ID, process, log)
    return await _wait_ready(engine)

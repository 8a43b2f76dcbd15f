"""Start, wait for and stop the benchmark's server processes (fake upstream, bare proxy, cong).

Each server runs in its own session (process group) with stdout/stderr in a log directory;
stopping it signals that group only (SIGTERM, then SIGKILL after a grace period), which also
ends the gateway's model-server child.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil

BENCH_DIR = Path(__file__).resolve().parent
ADMIN_TOKEN = "sk-bench-admin-0123456789abcdef"
UPSTREAM_KEY = "sk-fake"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class ServerError(RuntimeError):
    pass


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_dir: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        text = ""
        for suffix in ("out", "err"):
            path = self.log_dir / f"{self.name}.{suffix}"
            if path.is_file():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                text += f"--- {path} ---\n" + "\n".join(tail) + "\n"
        return text

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the server's process group, SIGKILL it after ``grace`` seconds, then kill
        any of its descendants that outlived it (e.g. an orphaned model server)."""
        try:
            children = psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(grace)
        _, alive = psutil.wait_procs(children, timeout=grace)
        for child in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the harness dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(name: str, cmd: list[str], log_dir: Path, env: Mapping[str, str] | None = None) -> Server:
    out = (log_dir / f"{name}.out").open("wb")
    err = (log_dir / f"{name}.err").open("wb")
    with out, err:
        process = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            cwd=BENCH_DIR.parent,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    return Server(name, process, 0, log_dir)


async def read_port(server: Server, wait_s: float = 20.0) -> int:
    """The port a helper printed on its first stdout line."""
    path = server.log_dir / f"{server.name}.out"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        first = path.read_bytes().split(b"\n", 1)
        if len(first) == 2 and first[0].strip().isdigit():
            return int(first[0])
        if server.process.poll() is not None:
            break
        await asyncio.sleep(0.05)
    raise ServerError(f"{server.name} did not report its port\n{server.log_tail()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_http(server: Server, path: str, wait_s: float, token: str | None = None) -> None:
    """Poll ``GET path`` until it answers 200, the process dies, or the timeout passes."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + wait_s
    last = "no answer"
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise ServerError(f"{server.name} exited\n{server.log_tail()}")
            try:
                async with session.get(server.base + path, headers=headers) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}: {(await resp.text())[:200]}"
            except aiohttp.ClientError as exc:
                last = repr(exc)
            await asyncio.sleep(0.2)
    raise ServerError(f"{server.name} not ready on {path}: {last}\n{server.log_tail()}")


@contextlib.asynccontextmanager
async def fake_upstream(
    log_dir: Path, max_seconds: float, token_delay_ms: float = 0.0
) -> AsyncIterator[Server]:
    cmd = [sys.executable, str(BENCH_DIR / "fake_upstream.py"), "--port", "0"]
    cmd += ["--api-key", UPSTREAM_KEY, "--max-seconds", str(max_seconds)]
    cmd += ["--token-delay-ms", str(token_delay_ms)]
    server = spawn("fake_upstream", cmd, log_dir)
    try:
        server.port = await read_port(server)
        await wait_http(server, "/v1/models", 10, UPSTREAM_KEY)
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def bare_proxy(log_dir: Path, upstream: Server, max_seconds: float) -> AsyncIterator[Server]:
    cmd = [sys.executable, str(BENCH_DIR / "bare_proxy.py"), "--port", "0"]
    cmd += ["--upstream", upstream.base, "--api-key", UPSTREAM_KEY]
    cmd += ["--max-seconds", str(max_seconds)]
    server = spawn("bare_proxy", cmd, log_dir)
    try:
        server.port = await read_port(server)
        await wait_http(server, "/v1/models", 10)
        yield server
    finally:
        server.stop()


def gateway_config(upstream: Server) -> str:
    return (
        "[[upstreams]]\n"
        'name = "fake"\n'
        f'base_url = "{upstream.base}/v1"\n'
        f'api_key = "{UPSTREAM_KEY}"\n'
        'models = ["fake-model", "fake-model-paced"]\n'
    )


def gateway_env(config: Path, data_dir: Path, port: int, *, models: bool) -> dict[str, str]:
    """The environment of a benchmarked ``cong serve``: one worker, bench admin key, no
    access log, the config file and data dir given, the model server on or off."""
    return {
        **os.environ,
        "CONG_CONFIG": str(config),
        "CONG_HOST": "127.0.0.1",
        "CONG_PORT": str(port),
        "CONG_WORKERS": "1",
        "CONG_DATA_DIR": str(data_dir),
        "CONG_ADMIN_TOKEN": ADMIN_TOKEN,
        "CONG_ACCESS_LOG": "false",
        "CONG_LOG_LEVEL": "warning",
        "CONG_MODEL_SERVER__ENABLED": "true" if models else "false",
    }


@contextlib.asynccontextmanager
async def gateway(
    work_dir: Path, upstream: Server, *, models: bool, threads: int, wait_s: float
) -> AsyncIterator[Server]:
    """``python -m cong serve`` with 1 worker, a fresh data dir and the fake upstream."""
    data_dir = work_dir / ("data-models" if models else "data")
    data_dir.mkdir(exist_ok=True)
    config = work_dir / "cong.toml"
    config.write_text(gateway_config(upstream))
    port = free_port()
    env = gateway_env(config, data_dir, port, models=models)
    env["CONG_MODEL_SERVER__THREADS"] = str(threads)
    name = "gateway-models" if models else "gateway"
    server = spawn(name, [sys.executable, "-m", "cong", "serve"], work_dir, env)
    server.port = port
    try:
        await wait_http(server, "/api/health", wait_s)
        yield server
    finally:
        server.stop()

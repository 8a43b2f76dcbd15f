"""Starts the embedded model server as a child process, health-checks it and restarts it.

Runs in the ``cong serve`` parent process (a thread), so the gateway workers stay light
and a model crash never takes the gateway down; while the model server is away, requests
for its models get 503 with a clear message. Its state is written to
``<data dir>/model-server.json`` for ``/api/status``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from cong.settings import ModelServerSettings

FAILED_CHECKS_BEFORE_RESTART = 3
MAX_BACKOFF_SECONDS = 30.0


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def model_server_command(settings: ModelServerSettings, port: int) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "cong.modelserver",
        "--host",
        settings.host,
        "--port",
        str(port),
        "--chat-model-id",
        settings.chat_model,
        "--embedding-model-id",
        settings.embedding_model,
        "--context-size",
        str(settings.context_size),
        "--threads",
        str(settings.threads),
        "--max-queue",
        str(settings.max_queue),
        "--embedding-batch-size",
        str(settings.embedding_batch_size),
    ]
    if settings.chat_model_path:
        command += ["--chat-model-path", settings.chat_model_path]
    if settings.embedding_model_path:
        command += ["--embedding-model-path", settings.embedding_model_path]
    return command


class ModelServerSupervisor:
    def __init__(
        self, settings: ModelServerSettings, data_dir: Path, say: Callable[[str], None] = print
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.say = say
        self.port = settings.port or free_port(settings.host)
        self.url = f"http://{settings.host}:{self.port}"
        self.state_file = data_dir / "model-server.json"
        self.log_file = data_dir / "logs" / "model-server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.state = "starting"
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="model-server", daemon=True)

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._spawn()
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._terminate()
        self._thread.join(timeout=10)
        self._write_state("stopped")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def _spawn(self) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                model_server_command(self.settings, self.port),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        self._write_state("starting")

    def _terminate(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def _supervise(self) -> None:
        started = time.monotonic()
        failures = 0
        backoff = 1.0
        while not self._stop.wait(
            0.25 if self.state == "starting" else self.settings.health_interval
        ):
            process = self.process
            assert process is not None
            if process.poll() is not None:
                self._restart(f"exited with code {process.returncode}", backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                started, failures = time.monotonic(), 0
                continue
            if self.healthy():
                failures, backoff = 0, 1.0
                if self.state != "ready":
                    self._write_state("ready")
                    self._ready.set()
                    self.say(f"Embedded models ready at {self.url} (log: {self.log_file})")
                continue
            if self.state == "starting":
                if time.monotonic() - started > self.settings.startup_timeout:
                    self._terminate()
                    self._restart("did not become healthy in time", backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                    started = time.monotonic()
                continue
            failures += 1
            if failures >= FAILED_CHECKS_BEFORE_RESTART:
                self._terminate()
                self._restart("stopped answering health checks", backoff)
                started, failures = time.monotonic(), 0

    def _restart(self, reason: str, backoff: float) -> None:
        self._ready.clear()
        self._write_state("restarting")
        self.say(f"Model server {reason}; restarting in {backoff:.0f} s (log: {self.log_file})")
        if self._stop.wait(backoff):
            return
        self.restarts += 1
        self._spawn()

    def _write_state(self, state: str) -> None:
        self.state = state
        pid = self.process.pid if self.process else None
        data = {"state": state, "pid": pid, "port": self.port, "restarts": self.restarts}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.state_file)

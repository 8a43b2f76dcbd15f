"""Starts the embedded model server as a child process, watches it and restarts it.

Runs in the ``cong serve`` parent process (a thread), so the gateway workers stay light
and a model crash never takes the gateway down; while the model server is away, requests
for its models get 503 with a clear message. Its state is written to
``<data dir>/model-server.json`` for ``/api/status``.

Liveness is not latency: a busy model server that answers its health check slowly is
left alone. It is restarted only when its process has exited, when it reports itself
stalled or shows no decode progress for ``watchdog_seconds`` while it has work, or when
it has not answered at all for that long. Each restart is logged with its cause.

Every start gets a new shared secret: only a caller that sends it (the gateway, as the
embedded channel's key) is answered by the model server.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cong.settings import ModelServerSettings

MAX_BACKOFF_SECONDS = 30.0
KEY_ENVIRONMENT = "CONG_MODEL_SERVER_KEY"  # read by python -m cong.modelserver
log = logging.getLogger("cong.model_server")


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def model_server_command(
    settings: ModelServerSettings, port: int, log_level: str = "warning"
) -> list[str]:
    """``log_level``: the gateway's; only ``debug`` is passed on (the model server logs
    warnings and errors otherwise, llama.cpp's load detail and every request at debug)."""
    command = [sys.executable, "-m", "cong.modelserver", "--host", settings.host]
    command += ["--port", str(port), "--chat-model-id", settings.chat_model]
    command += ["--embedding-model-id", settings.embedding_model]
    command += ["--context-size", str(settings.context_size), "--threads", str(settings.threads)]
    command += ["--max-queue", str(settings.max_queue), "--parallel", str(settings.parallel)]
    command += ["--kv-cache-tokens", str(settings.kv_cache_tokens)]
    command += ["--max-output-tokens", str(settings.max_output_tokens)]
    command += ["--stall-seconds", str(settings.watchdog_seconds)]
    command += ["--embedding-batch-size", str(settings.embedding_batch_size)]
    if settings.chat_model_path:
        command += ["--chat-model-path", settings.chat_model_path]
    if settings.embedding_model_path:
        command += ["--embedding-model-path", settings.embedding_model_path]
    if settings.onnx_cache is not None:
        command += ["--onnx-cache", settings.onnx_cache]
    for model in settings.models:
        extra = {"id": model.id, "path": model.path, "context": model.context}
        command += ["--extra-chat-model", json.dumps(extra)]
    if log_level.lower() == "debug":
        command += ["--log-level", "debug"]
    return command


class ModelServerSupervisor:
    def __init__(
        self,
        settings: ModelServerSettings,
        data_dir: Path,
        say: Callable[[str], None] = print,
        *,
        command: list[str] | None = None,
        log_level: str = "warning",
    ) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.say = say
        self.port = settings.port or free_port(settings.host)
        self.url = f"http://{settings.host}:{self.port}"
        self.key = secrets.token_urlsafe(32)
        self.command = command or model_server_command(settings, self.port, log_level)
        self.state_file = data_dir / "model-server.json"
        self.log_file = data_dir / "logs" / "model-server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.last_restart_cause = ""
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

    def health(self) -> dict[str, Any] | None:
        """The model server's health body (also when it answers 503), None if no answer."""
        request = urllib.request.Request(
            self.url + "/health", headers={"Authorization": f"Bearer {self.key}"}
        )
        try:
            # A slow answer is still an answer: wait as long as the watchdog would.
            with urllib.request.urlopen(request, timeout=self.settings.watchdog_seconds) as r:
                return dict(json.loads(r.read()))
        except urllib.error.HTTPError as exc:
            try:
                return dict(json.loads(exc.read()))
            except (ValueError, TypeError, OSError):
                return {"status": f"http {exc.code}"}
        except (OSError, ValueError, TypeError):
            return None

    def healthy(self) -> bool:
        body = self.health()
        return body is not None and body.get("status") == "ok"

    def _spawn(self) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env[KEY_ENVIRONMENT] = self.key
        with self.log_file.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        self._write_state("starting")

    def _terminate(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()  # the model server answers its running requests with 503 first
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def _supervise(self) -> None:
        watch = _Watch(self.settings.watchdog_seconds)
        backoff = 1.0
        while not self._stop.wait(
            0.25 if self.state == "starting" else self.settings.health_interval
        ):
            process = self.process
            assert process is not None
            if process.poll() is not None:
                cause = f"exited with code {process.returncode}"
            elif self.state == "starting":
                cause = self._starting(watch)
            else:
                cause = watch.verdict(self.health(), time.monotonic())
            if cause:
                self._terminate()
                self._restart(cause, backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                watch = _Watch(self.settings.watchdog_seconds)
            elif self.state == "ready":
                backoff = 1.0

    def _starting(self, watch: _Watch) -> str:
        if self.healthy():
            watch.reset(time.monotonic())
            self._write_state("ready")
            self._ready.set()
            self.say(f"Embedded models ready at {self.url} (log: {self.log_file})")
            return ""
        if time.monotonic() - watch.since > self.settings.startup_timeout:
            return f"did not become healthy within {self.settings.startup_timeout:.0f} s"
        return ""

    def _restart(self, cause: str, backoff: float) -> None:
        self._ready.clear()
        self.last_restart_cause = cause
        self._write_state("restarting")
        log.warning("model server restart: %s", cause)
        self.say(f"Model server {cause}; restarting in {backoff:.0f} s (log: {self.log_file})")
        if self._stop.wait(backoff):
            return
        self.restarts += 1
        self._spawn()

    def _write_state(self, state: str) -> None:
        self.state = state
        pid = self.process.pid if self.process else None
        data = {
            "state": state,
            "pid": pid,
            "port": self.port,
            "restarts": self.restarts,
            "last_restart_cause": self.last_restart_cause,
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.state_file)


class _Watch:
    """Decides, from successive health answers, whether the model server is dead or stuck."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.since = time.monotonic()  # start of the current check period
        self.answered_at = self.since
        self.progress_at = self.since
        self.progress: Any = None

    def reset(self, now: float) -> None:
        self.since = self.answered_at = self.progress_at = now

    def verdict(self, body: dict[str, Any] | None, now: float) -> str:
        """Why to restart now, or "" to leave it running."""
        if body is None:
            if now - self.answered_at > self.seconds:
                return f"did not answer its health check for {now - self.answered_at:.0f} s"
            return ""  # slow is not dead
        self.answered_at = now
        if body.get("status") == "stalled":
            return f"stalled: {body.get('reason') or 'no decode progress'}"
        progress = body.get("progress")
        if not body.get("busy") or progress != self.progress:
            self.progress, self.progress_at = progress, now
            return ""
        if now - self.progress_at > self.seconds:
            return f"made no decode progress for {now - self.progress_at:.0f} s while busy"
        return ""

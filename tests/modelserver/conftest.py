"""One real model server process (real models, real decoding) shared by these tests."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from openai import AsyncOpenAI, OpenAI

CHAT_MODEL = "smollm2-135m-instruct"
EMBEDDING_MODEL = "all-minilm-l6-v2"
CONTEXT_SIZE = 2048
MAX_QUEUE = 2
PARALLEL = 2
MAX_OUTPUT_TOKENS = 24
TINY_MODEL = "tiny-chat"
TINY_CONTEXT = 320


def _gguf() -> str:
    from cong.modelserver.options import ServerOptions

    return ServerOptions().resolved_chat_model_path()


KEEPALIVE_SECONDS = 0.5
START_TIMEOUT = 120.0


@dataclass
class RunningModelServer:
    process: subprocess.Popen[str]
    url: str
    output: list[str] = field(default_factory=list)

    def client(self) -> OpenAI:
        return OpenAI(base_url=self.url + "/v1", api_key="unused", max_retries=0, timeout=60)

    def async_client(self) -> AsyncOpenAI:
        return AsyncOpenAI(base_url=self.url + "/v1", api_key="unused", max_retries=0, timeout=60)

    def health(self) -> dict[str, Any]:
        response = httpx.get(self.url + "/health", timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=60)


def _start() -> RunningModelServer:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cong.modelserver",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--context-size",
            str(CONTEXT_SIZE),
            "--max-queue",
            str(MAX_QUEUE),
            "--parallel",
            str(PARALLEL),
            "--max-output-tokens",
            str(MAX_OUTPUT_TOKENS),
            # "Any GGUF": the packaged file again, as a second model with a small context.
            "--extra-chat-model",
            orjson.dumps({"id": TINY_MODEL, "path": _gguf(), "context": TINY_CONTEXT}).decode(),
            "--keepalive-seconds",
            str(KEEPALIVE_SECONDS),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip("\n"))
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        if line.startswith("{") and '"ready"' in line:
            ready = orjson.loads(line)
            return RunningModelServer(process, ready["url"], output)
    _stop(process)
    raise RuntimeError("model server did not start:\n" + "\n".join(output))


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="package")
def modelserver() -> Iterator[RunningModelServer]:
    server = _start()
    try:
        yield server
    finally:
        _stop(server.process)

"""Prompts that cannot fit are refused before decoding; max_tokens is clamped to what
fits (and says so in a header); a request without max_tokens is capped."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from tests.modelserver.conftest import (
    CHAT_MODEL,
    MAX_OUTPUT_TOKENS,
    TINY_CONTEXT,
    TINY_MODEL,
    RunningModelServer,
)

CLAMP_HEADER = "x-cong-max-tokens-clamped"


def _count(server: RunningModelServer, messages: list[dict[str, Any]]) -> int:
    response = server.post("/tokenize", {"model": TINY_MODEL, "messages": messages})
    return int(response.json()["count"])


def test_fifty_thousand_messages_are_refused_at_once(modelserver: RunningModelServer) -> None:
    body = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "hi"}] * 50_000}
    answers: list[float] = []
    done = threading.Event()

    def probe_health() -> None:
        while not done.is_set():
            started = time.monotonic()
            httpx.get(modelserver.url + "/health", timeout=10).raise_for_status()
            answers.append(time.monotonic() - started)

    prober = threading.Thread(target=probe_health)
    prober.start()
    try:
        response = modelserver.post("/v1/chat/completions", body)
    finally:
        done.set()
        prober.join()
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["param"] == "messages"
    assert "50000 messages" in error["message"]
    assert answers and max(answers) < 2.0  # the event loop never waited on the prompt


def test_max_tokens_beyond_the_context_is_clamped(modelserver: RunningModelServer) -> None:
    # The small-context model: a prompt that leaves a few tokens of room.
    filler = "lighthouse " * 100
    prompt = _count(modelserver, [{"role": "user", "content": filler}])
    messages = [{"role": "user", "content": filler + "sea " * (TINY_CONTEXT - prompt - 6)}]
    prompt = _count(modelserver, messages)
    room = TINY_CONTEXT - prompt
    assert 0 < room < 16
    body = {"model": TINY_MODEL, "messages": messages, "max_tokens": 32768, "temperature": 0}
    response = modelserver.post("/v1/chat/completions", body)
    assert response.status_code == 200, response.text
    assert response.headers[CLAMP_HEADER] == str(room)
    assert response.json()["usage"]["completion_tokens"] <= room
    # Within the context: no clamp, no header.
    small = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Hi"}]}
    response = modelserver.post("/v1/chat/completions", {**small, "max_tokens": 2})
    assert response.status_code == 200 and CLAMP_HEADER not in response.headers


def test_no_max_tokens_is_capped(modelserver: RunningModelServer) -> None:
    body = {
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": "Write a very long essay about the sea."}],
        "temperature": 0,
    }
    response = modelserver.post("/v1/chat/completions", body)
    assert response.status_code == 200
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "length"
    assert response.json()["usage"]["completion_tokens"] == MAX_OUTPUT_TOKENS
    assert CLAMP_HEADER not in response.headers

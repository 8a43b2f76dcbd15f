"""Continuous batching seen from outside: no head-of-line blocking, cancellation on
disconnect, the bounded queue (429), and the event loop staying free."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.modelserver.conftest import (
    CHAT_MODEL,
    EMBEDDING_MODEL,
    MAX_QUEUE,
    PARALLEL,
    RunningModelServer,
)

LONG = {
    "model": CHAT_MODEL,
    "messages": [{"role": "user", "content": "Write a very long essay about the sea."}],
    "max_tokens": 1500,
    "temperature": 1.0,
    "stream": True,
}
SHORT = {
    "model": CHAT_MODEL,
    "messages": [{"role": "user", "content": "Hi"}],
    "max_tokens": 8,
    "temperature": 0,
}


def _wait_idle(server: RunningModelServer, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chat = server.health()["chat"]
        if not chat["active"] and chat["queued"] == 0:
            return dict(chat)
        time.sleep(0.05)
    raise AssertionError("the model server stayed busy")


async def test_a_short_request_is_not_blocked_by_a_long_one(
    modelserver: RunningModelServer,
) -> None:
    _wait_idle(modelserver)
    async with httpx.AsyncClient(base_url=modelserver.url, timeout=60) as client:
        long_tokens = 0
        long_done = asyncio.Event()
        long_started = asyncio.Event()

        async def long_stream() -> None:
            nonlocal long_tokens
            body = {**LONG, "max_tokens": 300, "temperature": 0}
            async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: {"):
                        long_tokens += 1
                        if long_tokens >= 5:
                            long_started.set()
            long_done.set()

        running = asyncio.create_task(long_stream())
        await asyncio.wait_for(long_started.wait(), 60)  # the long request is generating
        answer = await client.post("/v1/chat/completions", json=SHORT)
        # The short request finished while the long one kept generating beside it.
        assert answer.status_code == 200
        assert not long_done.is_set()
        tokens_when_short_ended = long_tokens
        assert answer.json()["usage"]["completion_tokens"] >= 1
        await asyncio.wait_for(running, 120)
        assert long_tokens > tokens_when_short_ended
    _wait_idle(modelserver)


def test_disconnect_stops_generation(modelserver: RunningModelServer) -> None:
    _wait_idle(modelserver)
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", modelserver.url + "/v1/chat/completions", json=LONG) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        received = 0
        for line in response.iter_lines():
            if line.startswith("data: "):
                received += 1
            if received >= 5:
                break
    # The client is gone: the decode loop must drop its sequence at the next step.
    stats = _wait_idle(modelserver, timeout=5)
    time.sleep(0.3)
    assert modelserver.health()["chat"]["tokens_generated"] == stats["tokens_generated"]
    started = time.monotonic()
    quick = modelserver.post("/v1/chat/completions", {**SHORT, "max_tokens": 3})
    assert quick.status_code == 200
    assert time.monotonic() - started < 5


# SmolLM2's end tokens (<|endoftext|>, <|im_end|>) forbidden: a stream that must hold its
# slot until cancelled cannot end early by sampling one (temperature 1.0, no seed).
NEVER_ENDS = {**LONG, "logit_bias": {"0": -100, "2": -100}}


async def _stream_until_cancelled(client: httpx.AsyncClient) -> None:
    async with client.stream("POST", "/v1/chat/completions", json=NEVER_ENDS) as response:
        async for _line in response.aiter_lines():
            pass


async def test_full_queue_answers_429_and_health_stays_fast(
    modelserver: RunningModelServer,
) -> None:
    _wait_idle(modelserver)
    async with httpx.AsyncClient(base_url=modelserver.url, timeout=60) as client:
        running = [asyncio.create_task(_stream_until_cancelled(client)) for _ in range(PARALLEL)]
        await _until(client, lambda chat: chat["active"] == PARALLEL)
        running += [asyncio.create_task(_stream_until_cancelled(client)) for _ in range(MAX_QUEUE)]
        await _until(client, lambda chat: chat["queued"] == MAX_QUEUE)
        # While every slot generates, the event loop still answers at once.
        started = time.monotonic()
        assert (await client.get("/health")).status_code == 200
        assert time.monotonic() - started < 1.0
        # Embeddings have their own thread: they do not wait behind the chat queue.
        embedded = await client.post(
            "/v1/embeddings", json={"model": EMBEDDING_MODEL, "input": "while chatting"}
        )
        assert embedded.status_code == 200
        assert (await client.get("/health")).json()["chat"]["queued"] == MAX_QUEUE
        refused = await client.post("/v1/chat/completions", json={**LONG, "stream": False})
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "server_busy"
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    _wait_idle(modelserver, timeout=10)


async def test_queued_stream_gets_keepalives(modelserver: RunningModelServer) -> None:
    _wait_idle(modelserver)
    async with httpx.AsyncClient(base_url=modelserver.url, timeout=60) as client:
        running = [asyncio.create_task(_stream_until_cancelled(client)) for _ in range(PARALLEL)]
        await _until(client, lambda chat: chat["active"] == PARALLEL)
        lines: list[str] = []
        async with client.stream("POST", "/v1/chat/completions", json=LONG) as queued:
            assert queued.status_code == 200
            async for line in queued.aiter_lines():
                lines.append(line)
                if len([x for x in lines if x.startswith(":")]) >= 2:
                    break
        assert not [x for x in lines if x.startswith("data:")]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    _wait_idle(modelserver, timeout=10)


def test_non_stream_disconnect_stops_generation(modelserver: RunningModelServer) -> None:
    _wait_idle(modelserver)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            modelserver.url + "/v1/chat/completions",
            json={**LONG, "stream": False},
            timeout=httpx.Timeout(60, read=1.0),
        )
    stats = _wait_idle(modelserver, timeout=5)
    assert stats["jobs_cancelled"] >= 1


async def _until(client: httpx.AsyncClient, predicate: Callable[[dict[str, Any]], bool]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        chat = (await client.get("/health")).json()["chat"]
        if predicate(chat):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


def test_log_probabilities_are_refused_not_silently_dropped(
    modelserver: RunningModelServer,
) -> None:
    for path, extra in (
        ("/v1/chat/completions", {"logprobs": True, "top_logprobs": 2}),
        ("/v1/completions", {"logprobs": 2}),
    ):
        body = {**SHORT, **extra, "max_tokens": 2}
        if path == "/v1/completions":
            body = {"model": CHAT_MODEL, "prompt": "Once upon", **extra, "max_tokens": 2}
        refused = modelserver.post(path, body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "unsupported_parameter"
    plain = modelserver.post("/v1/chat/completions", {**SHORT, "logprobs": False, "max_tokens": 2})
    assert plain.status_code == 200

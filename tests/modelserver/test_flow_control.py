"""Cancellation on disconnect, the bounded queue, and the event loop staying free."""

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
    RunningModelServer,
)

LONG = {
    "model": CHAT_MODEL,
    "messages": [{"role": "user", "content": "Write a very long essay about the sea."}],
    "max_tokens": 1500,
    "temperature": 1.0,
    "stream": True,
}


def _wait_idle(server: RunningModelServer, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chat = server.health()["chat"]
        if not chat["active"] and chat["queued"] == 0:
            return dict(chat)
        time.sleep(0.05)
    raise AssertionError("the model server stayed busy")


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
    # The client is gone: the decode loop must stop between two tokens.
    stats = _wait_idle(modelserver, timeout=5)
    time.sleep(0.3)
    assert modelserver.health()["chat"]["tokens_generated"] == stats["tokens_generated"]
    started = time.monotonic()
    quick = modelserver.post(
        "/v1/chat/completions",
        {
            "model": CHAT_MODEL,
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 3,
        },
    )
    assert quick.status_code == 200
    assert time.monotonic() - started < 5


async def test_full_queue_answers_503_and_health_stays_fast(
    modelserver: RunningModelServer,
) -> None:
    _wait_idle(modelserver)
    async with httpx.AsyncClient(base_url=modelserver.url, timeout=60) as client:

        async def stream_until_cancelled() -> None:
            async with client.stream("POST", "/v1/chat/completions", json=LONG) as response:
                async for _line in response.aiter_lines():
                    pass

        running = [asyncio.create_task(stream_until_cancelled())]
        await _until(client, lambda chat: chat["active"])
        running += [asyncio.create_task(stream_until_cancelled()) for _ in range(MAX_QUEUE)]
        await _until(client, lambda chat: chat["queued"] == MAX_QUEUE)
        # While a generation runs, the event loop still answers at once.
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
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "busy" in refused.json()["error"]["message"]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    _wait_idle(modelserver, timeout=10)


async def test_queued_stream_gets_keepalives(modelserver: RunningModelServer) -> None:
    _wait_idle(modelserver)
    async with httpx.AsyncClient(base_url=modelserver.url, timeout=60) as client:

        async def stream_until_cancelled() -> None:
            async with client.stream("POST", "/v1/chat/completions", json=LONG) as response:
                async for _line in response.aiter_lines():
                    pass

        running = asyncio.create_task(stream_until_cancelled())
        await _until(client, lambda chat: chat["active"])
        lines: list[str] = []
        async with client.stream("POST", "/v1/chat/completions", json=LONG) as queued:
            assert queued.status_code == 200
            async for line in queued.aiter_lines():
                lines.append(line)
                if len([x for x in lines if x.startswith(":")]) >= 2:
                    break
        assert not [x for x in lines if x.startswith("data:")]
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
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

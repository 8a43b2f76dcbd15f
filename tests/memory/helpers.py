"""Small helpers of the memory tests: keys with a memory mode, and what the fake
upstream saw."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, api


def key_with_mode(gw: RunningGateway, user: str, mode: str | None) -> str:
    """A new key of ``user`` (created if needed) whose memory mode is ``mode``."""
    token = gw.create_key(user)
    keys = api(gw, "GET", "/api/memory/mode", token).json()["keys"]
    if mode is not None:
        answer = api(gw, "PUT", f"/api/memory/keys/{keys[-1]['id']}", token, json={"mode": mode})
        assert answer.status_code == 200, answer.text
    return token


def seen_upstream(recorder: Recorder, marker: str) -> dict[str, Any]:
    """The last chat request the fake upstream received whose last message has
    ``marker``."""
    for body in reversed(recorder.requests):
        messages = body.get("messages") or []
        if messages and marker in str(messages[-1].get("content")):
            return body
    raise AssertionError(f"the upstream never saw {marker!r}")


def contents(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], str(m["content"])) for m in body["messages"]]


def ask(gw: RunningGateway, token: str, text: str) -> httpx.Response:
    """One chat turn of ``token`` with ``text`` (asserted answered)."""
    answer = httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {token}"},
        json={"model": "fake-model", "messages": [{"role": "user", "content": text}]},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer


def memories_used(answer: httpx.Response) -> list[int]:
    return [int(i) for i in answer.headers["x-memories-used"].split(",") if i]

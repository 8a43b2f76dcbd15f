"""Automatic memories: after a ``full``-mode answer the extractor model (JSON-constrained)
runs off the request path; its facts are kept once (deduplicated by similarity) and its
call is metered to the user like any request."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.fakes.openai_upstream import Recorder
from tests.memory.helpers import key_with_mode
from tests.support.gateway import RunningGateway, api


def _memories_when(gw: RunningGateway, token: str, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 10
    while True:
        data: list[dict[str, object]] = api(gw, "GET", "/api/memories", token).json()["data"]
        if len(data) >= count or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


@pytest.mark.memory_settings(extractor_model="fake-facts")
def test_facts_are_extracted_after_the_answer_once_and_billed(
    memory_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw, recorder = memory_gateway, fake_openai[1]
    token = key_with_mode(gw, "thu", "full")

    def ask(text: str) -> httpx.Response:
        return httpx.post(
            gw.base_url + "/chat/completions",
            headers={"authorization": f"Bearer {token}"},
            json={"model": "fake-model", "messages": [{"role": "user", "content": text}]},
            timeout=30,
        )

    first = ask("I go hiking in Sa Pa every spring")
    assert first.status_code == 200
    (memory,) = _memories_when(gw, token, 1)
    assert memory["text"] == "I go hiking in Sa Pa every spring"
    assert memory["kind"] == "extracted"
    assert memory["source_conversation_id"] == first.headers["x-conversation-id"]
    extraction = next(r for r in reversed(recorder.requests) if r.get("model") == "fake-facts")
    assert extraction["response_format"]["type"] == "json_schema"

    # Metered like any request of the user, under the request id it came from.
    request_id = first.headers["x-request-id"] + "-memory"
    deadline = time.monotonic() + 10  # the usage log is written in batches
    while (logged := api(gw, "GET", f"/api/usage/requests/{request_id}", token)).status_code != 200:
        assert time.monotonic() < deadline, logged.text
        time.sleep(0.1)
    assert logged.json()["model"] == "fake-facts"

    # The same fact again (another conversation): nothing new is kept.
    assert ask("I go hiking in Sa Pa every spring").status_code == 200
    time.sleep(0.5)
    assert len(_memories_when(gw, token, 2)) == 1

"""A continued conversation is fitted to the context of the model it is sent to, as the
catalogue knows it: an extra embedded GGUF model's own ``context`` (not the model
server's default) and an admin's correction of an upstream model's context. The
embedded channel here is the fake OpenAI upstream on the port the gateway is given, so
what "the model server" receives is recorded."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.openai_upstream import Recorder, create_fake_openai
from tests.memory.helpers import seen_upstream
from tests.support.gateway import RunningGateway, api, auth, fresh_database, start_gateway
from tests.support.servers import ServerThread

SMALL = "small-gguf"  # an extra embedded model with a context of 1024 (the default: 8192)
UPSTREAM = "fake-model"  # context unknown: memory.context_tokens (8192) until an admin sets it
FILLER = " lorem ipsum dolor" * 50  # ~300 tokens by the gateway's estimate
SUMMARY = "Summary of the earlier conversation:"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningGateway, Recorder]]:
    tmp = tmp_path_factory.mktemp("context")
    recorder = Recorder()
    with ServerThread(create_fake_openai(recorder)) as upstream:
        gw, server = start_gateway(
            fresh_database("sqlite", tmp, None),
            tmp / "data",
            upstreams=[{"name": "fake", "base_url": upstream.url + "/v1", "models": [UPSTREAM]}],
            model_server={
                "enabled": True,
                "port": upstream.port,
                "models": [
                    {"id": SMALL, "path": "/nowhere.gguf", "context": 1024, "aliases": ["small"]}
                ],
            },
        )
        try:
            yield gw, recorder
        finally:
            server.__exit__()


def _conversation(gw: RunningGateway, token: str, model: str, marker: str, turns: int) -> str:
    """``turns`` user turns of ~300 tokens each in one conversation (history mode: the
    key's default), each sending only its new message; the conversation's id."""
    conversation = ""
    for turn in range(turns):
        headers = auth(token) | ({"x-conversation-id": conversation} if conversation else {})
        body = {
            "model": model,
            "messages": [{"role": "user", "content": f"{marker}{turn}{FILLER}"}],
            "max_tokens": 50,
        }
        answer = httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=60)
        assert answer.status_code == 200, answer.text
        conversation = answer.headers["x-conversation-id"]
    return conversation


def _first_turn_sent(seen: dict[str, object], marker: str) -> bool:
    return f"{marker}0 lorem" in str(seen["messages"])


def test_an_extra_embedded_model_gets_the_history_its_own_context_holds(
    setup: tuple[RunningGateway, Recorder],
) -> None:
    gw, recorder = setup
    token = gw.create_key("ctx-embedded")
    # Four turns of ~300 tokens no longer fit 1024: the oldest are summarised (by the
    # model itself, no summary model being set) instead of the request being refused.
    conversation = _conversation(gw, token, SMALL, "e", 4)
    seen = seen_upstream(recorder, "e3 lorem")
    assert seen["model"] == SMALL
    assert seen["messages"][0]["content"].startswith(SUMMARY)
    assert not _first_turn_sent(seen, "e")
    stored = api(gw, "GET", f"/api/conversations/{conversation}", token).json()
    assert stored["summary"] == "Hello from fake"  # what the model answered the summary request
    # Through its alias, the same context.
    turn = {"model": "small", "messages": [{"role": "user", "content": "e4" + FILLER}]}
    headers = auth(token) | {"x-conversation-id": conversation}
    answer = httpx.post(gw.url + "/v1/chat/completions", json=turn, headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    seen = seen_upstream(recorder, "e4 lorem")
    assert seen["messages"][0]["content"].startswith(SUMMARY)
    assert "e1 lorem" not in str(seen["messages"])

    # The same four turns to a model of a larger context are sent whole.
    _conversation(gw, token, UPSTREAM, "u", 4)
    seen = seen_upstream(recorder, "u3 lorem")
    assert _first_turn_sent(seen, "u") and not str(seen["messages"][0]).count(SUMMARY)


def test_an_admins_context_for_an_upstream_model_fits_its_history(
    setup: tuple[RunningGateway, Recorder],
) -> None:
    gw, recorder = setup
    token = gw.create_key("ctx-override")
    path = f"/api/models/{UPSTREAM}"
    corrected = api(gw, "PUT", path, gw.admin_token, json={"context_length": 1024})
    assert corrected.status_code == 200, corrected.text
    try:
        _conversation(gw, token, UPSTREAM, "o", 4)
        seen = seen_upstream(recorder, "o3 lorem")
        assert seen["messages"][0]["content"].startswith(SUMMARY)
        assert not _first_turn_sent(seen, "o")
    finally:
        api(gw, "PUT", path, gw.admin_token, json={})

"""A prompt that cannot fit the model's context is refused by the gateway with OpenAI's
400 ``context_length_exceeded`` before the model server or the upstream sees it, fast
(bounds on turns and characters first, a word count only when those cannot decide);
prompts that fit are served as before. The embedded model server here is a fake
speaking its wire format on the port the gateway is given."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.fakes.openai_upstream import Recorder, create_fake_openai
from tests.support.gateway import RunningGateway, api, auth, fresh_database, start_gateway
from tests.support.servers import ServerThread

EMBEDDED = "smollm2-135m-instruct"  # context 8192 (model_server.context_size)
SMALL_EMBEDDED = "small-gguf"  # an extra GGUF model with its own context of 1024
KNOWN = "gpt-4-0613"  # the catalogue knows its context: 8192
UNKNOWN = "fake-model"  # no known context until an admin sets one
FAST = 3.0  # seconds: a refusal takes milliseconds; the box is shared and loaded
FIVE_MB = 5 * 1024 * 1024


@dataclass
class Setup:
    gw: RunningGateway
    recorder: Recorder
    key: str

    def post(self, path: str, body: dict[str, Any], **headers: str) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = httpx.post(
            self.gw.url + path, json=body, headers=auth(self.key) | headers, timeout=60
        )
        return response, time.monotonic() - started

    def upstream_saw_nothing(self) -> bool:
        return not self.recorder.requests and not self.recorder.responses_requests


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("bounds")
    recorder = Recorder()
    with ServerThread(create_fake_openai(recorder)) as upstream:
        gw, server = start_gateway(
            fresh_database("sqlite", tmp, None),
            tmp / "data",
            upstreams=[
                {
                    "name": "fake",
                    "base_url": upstream.url + "/v1",
                    "models": [KNOWN, UNKNOWN],
                    "native_responses": True,
                }
            ],
            # The embedded channel points at the fake: what reaches "the model server"
            # is recorded.
            model_server={
                "enabled": True,
                "port": upstream.port,
                "models": [{"id": SMALL_EMBEDDED, "path": "/nowhere.gguf", "context": 1024}],
            },
        )
        try:
            yield Setup(gw, recorder, gw.create_key("bounded"))
        finally:
            server.__exit__()


@pytest.fixture
def bounds(setup: Setup) -> Setup:
    setup.recorder.requests.clear()
    setup.recorder.responses_requests.clear()
    return setup


def _too_long(response: httpx.Response, param: str = "messages") -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "context_length_exceeded"
    assert error["param"] == param
    assert error["message"].startswith("This model's maximum context length is ")


@pytest.mark.parametrize("stream", [False, True])
def test_fifty_thousand_messages_are_refused_before_the_model_server(
    bounds: Setup, stream: bool
) -> None:
    messages = [{"role": "user", "content": "hi"}] * 50_000
    body = {"model": EMBEDDED, "messages": messages, "stream": stream}
    response, took = bounds.post("/v1/chat/completions", body)
    _too_long(response)
    assert "8192 tokens" in response.json()["error"]["message"]
    assert took < FAST
    assert bounds.upstream_saw_nothing()


def test_a_five_megabyte_message_is_refused_before_the_model_server(bounds: Setup) -> None:
    body = {"model": EMBEDDED, "messages": [{"role": "user", "content": "x" * FIVE_MB}]}
    response, took = bounds.post("/v1/chat/completions", body)
    _too_long(response)
    assert took < FAST
    # Legacy completions: the same for a prompt, named as such.
    response, took = bounds.post("/v1/completions", {"model": EMBEDDED, "prompt": "y" * FIVE_MB})
    _too_long(response, "prompt")
    assert took < FAST
    assert bounds.upstream_saw_nothing()


def test_each_embedded_model_is_bounded_by_its_own_context(bounds: Setup) -> None:
    words = "word " * 2_000  # 2,000 tokens at least: too many for 1024, fine for 8192
    response, _ = bounds.post(
        "/v1/chat/completions",
        {"model": SMALL_EMBEDDED, "messages": [{"role": "user", "content": words}]},
    )
    _too_long(response)
    assert "1024 tokens" in response.json()["error"]["message"]
    assert bounds.upstream_saw_nothing()
    response, _ = bounds.post(
        "/v1/chat/completions",
        {"model": EMBEDDED, "messages": [{"role": "user", "content": words}]},
    )
    assert response.status_code == 200, response.text
    assert len(bounds.recorder.requests) == 1


def test_a_catalogue_model_of_known_context_is_bounded(bounds: Setup) -> None:
    # 1 MB of words: the characters alone cannot prove it (1 MB / 256 < 8192), the word
    # count does (more than 170,000 words).
    text = "lorem ipsum dolor " * 60_000
    response, took = bounds.post(
        "/v1/chat/completions", {"model": KNOWN, "messages": [{"role": "user", "content": text}]}
    )
    _too_long(response)
    assert took < FAST
    # A long prompt that fits (about 6,000 words) is served.
    fits = "lorem ipsum dolor " * 2_000
    response, _ = bounds.post(
        "/v1/chat/completions", {"model": KNOWN, "messages": [{"role": "user", "content": fits}]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "Hello from fake"
    assert len(bounds.recorder.requests) == 1


def test_an_admin_set_context_bounds_a_model(bounds: Setup) -> None:
    text = "tok " * 3_000
    body = {"model": UNKNOWN, "messages": [{"role": "user", "content": text}]}
    response, _ = bounds.post("/v1/chat/completions", body)
    assert response.status_code == 200, response.text  # no known context: not judged
    gw = bounds.gw
    put = api(gw, "PUT", f"/api/models/{UNKNOWN}", gw.admin_token, json={"context_length": 2048})
    assert put.status_code == 200, put.text
    try:
        response, _ = bounds.post("/v1/chat/completions", body)
        _too_long(response)
        assert "2048 tokens" in response.json()["error"]["message"]
    finally:
        api(gw, "PUT", f"/api/models/{UNKNOWN}", gw.admin_token, json={"context_length": None})
    assert len(bounds.recorder.requests) == 1


def test_other_wire_formats_are_bounded_too(bounds: Setup) -> None:
    many = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}] * 25_000
    # Anthropic Messages (translated to chat for the embedded model), its error shape.
    response, took = bounds.post(
        "/v1/messages", {"model": EMBEDDED, "max_tokens": 16, "messages": many}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "maximum context length" in response.json()["error"]["message"]
    assert took < FAST
    # OpenAI Responses, translated (embedded) and passed through natively (upstream).
    for model in (EMBEDDED, KNOWN):
        response, took = bounds.post("/v1/responses", {"model": model, "input": "z" * FIVE_MB})
        _too_long(response, "input")
        assert took < FAST
    assert bounds.upstream_saw_nothing()


def test_memory_does_no_work_for_a_prompt_that_cannot_fit(bounds: Setup) -> None:
    """A key in memory mode ``full``: the question is neither embedded (the embedding
    model is on the fake model server too) nor stored as a conversation."""
    gw = bounds.gw
    token = gw.create_key("remembers")
    keys = api(gw, "GET", "/api/memory/mode", token).json()["keys"]
    mode = api(gw, "PUT", f"/api/memory/keys/{keys[-1]['id']}", token, json={"mode": "full"})
    assert mode.status_code == 200, mode.text
    body = {"model": EMBEDDED, "messages": [{"role": "user", "content": "x" * FIVE_MB}]}
    response = httpx.post(
        gw.url + "/v1/chat/completions", json=body, headers=auth(token), timeout=60
    )
    _too_long(response)
    assert bounds.upstream_saw_nothing()
    assert api(gw, "GET", "/api/conversations", token).json()["data"] == []

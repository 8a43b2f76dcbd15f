"""`cong serve` with the real embedded models: the official SDK through the gateway into
llama.cpp and sentence-transformers, and the model server's supervision."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.support.processes import ServeProcess

TOKEN = "sk-e2e-admin-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
CLAMPED = "x-cong-max-tokens-clamped"
EXTRA = "my-local-gguf"


def _copied_gguf(folder: Path) -> str:
    from cong.modelserver.options import ServerOptions

    target = folder / "models" / "mine.gguf"
    target.parent.mkdir()
    shutil.copyfile(ServerOptions().resolved_chat_model_path(), target)
    return str(target)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    tmp = tmp_path_factory.mktemp("e2e")
    server = ServeProcess(
        tmp,
        {
            "CONG_DATA_DIR": str(tmp / "data"),
            "CONG_ADMIN_TOKEN": TOKEN,
            "CONG_MODEL_SERVER__CONTEXT_SIZE": "2048",
            "CONG_MODEL_SERVER__HEALTH_INTERVAL": "0.5",
            "CONG_MODEL_SERVER__PARALLEL": "2",
            # Any GGUF: the packaged file, copied elsewhere and served under another id.
            "CONG_MODEL_SERVER__MODELS": json.dumps(
                [{"id": EXTRA, "path": _copied_gguf(tmp), "context": 1024, "aliases": ["mine"]}]
            ),
        },
    )
    try:
        server.wait_healthy()
        server.wait_for_line("Embedded models ready", timeout=240)
        yield server
    finally:
        server.stop()


def client(server: ServeProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=TOKEN, max_retries=0)


def test_chat_through_alias_really_decodes(served: ServeProcess) -> None:
    reply = client(served).chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=8,
        temperature=0,
        seed=1,
    )
    assert reply.model == "gpt-4o"
    assert reply.choices[0].message.content
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 8
    assert reply.usage.prompt_tokens > 5


def test_stream_and_same_seed_same_text(served: ServeProcess) -> None:
    def run() -> str:
        stream = client(served).chat.completions.create(
            model="smollm2-135m-instruct",
            stream=True,
            max_tokens=12,
            seed=42,
            temperature=0.8,
            messages=[{"role": "user", "content": "Name a fruit."}],
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 12
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    first = run()
    assert first and first == run()


def test_embeddings_through_alias(served: ServeProcess) -> None:
    result = client(served).embeddings.create(
        model="text-embedding-3-small", input=["a cat", "a kitten", "tax law"]
    )
    assert len(result.data) == 3 and len(result.data[0].embedding) == 384


def _model_server(server: ServeProcess) -> dict[str, Any]:
    status = httpx.get(server.url + "/api/status", headers=AUTH, timeout=10).json()
    state: dict[str, Any] = status["model_server"]
    return state


def _wait_restarted(server: ServeProcess, old_pid: int) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = _model_server(server)
        if state["state"] == "ready" and state["pid"] != old_pid:
            return state
        time.sleep(0.5)
    raise AssertionError(f"the model server did not come back: {state}")


def test_max_tokens_beyond_the_context_is_clamped_and_said(served: ServeProcess) -> None:
    # The context is 2048 tokens: 100,000 cannot fit, so the model server lowers it to
    # what the prompt leaves and says so; the gateway passes that header on (only that).
    body = {
        "model": "gpt-4o",
        "max_tokens": 100_000,
        "temperature": 0,
        "stop": [" "],  # a short answer all the same
        "messages": [{"role": "user", "content": "Say hello."}],
    }
    url = served.url + "/v1/chat/completions"
    browser = {**AUTH, "origin": "http://localhost:5173"}
    plain = httpx.post(url, json=body, headers=browser, timeout=60)
    assert plain.status_code == 200, plain.text
    room = str(2048 - plain.json()["usage"]["prompt_tokens"])
    assert plain.headers[CLAMPED] == room
    assert CLAMPED in plain.headers["access-control-expose-headers"]  # readable in a page
    with httpx.stream(
        "POST", url, json={**body, "stream": True}, headers=AUTH, timeout=60
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers[CLAMPED] == room
        assert "data: [DONE]" in list(stream.iter_lines())
    fits = httpx.post(url, json={**body, "max_tokens": 8}, headers=AUTH, timeout=60)
    assert fits.status_code == 200 and CLAMPED not in fits.headers


def test_status_and_restart_after_a_crash(served: ServeProcess) -> None:
    status = httpx.get(
        served.url + "/api/status", headers={"authorization": f"Bearer {TOKEN}"}
    ).json()
    assert status["model_server"]["state"] == "ready"
    pid = status["model_server"]["pid"]
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    during = httpx.post(
        served.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {TOKEN}"},
        json={"model": "gpt-4o", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]},
        timeout=60,
    )
    if during.status_code != 200:  # unless it was already back
        assert during.status_code == 503
        assert "embedded model server" in during.json()["error"]["message"]
    served.wait_for_line("restarting", timeout=30)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = httpx.get(
            served.url + "/api/status", headers={"authorization": f"Bearer {TOKEN}"}
        ).json()
        if status["model_server"]["state"] == "ready" and status["model_server"]["pid"] != pid:
            break
        time.sleep(0.5)
    assert status["model_server"]["state"] == "ready"
    assert status["model_server"]["restarts"] >= 1
    after = client(served).chat.completions.create(
        model="gpt-4o", max_tokens=2, messages=[{"role": "user", "content": "hi"}]
    )
    assert after.choices[0].message.content is not None


def test_a_killed_model_server_fails_in_flight_requests_retryably(served: ServeProcess) -> None:
    """SIGKILL mid-answer: a request that has had no byte yet gets 503 + retry-after, a
    stream already flowing ends with a retryable error event; nobody waits on a corpse."""
    pid = _model_server(served)["pid"]
    url = served.url + "/v1/chat/completions"
    long = {
        "model": "gpt-4o",
        "max_tokens": 1000,
        "temperature": 0,
        "messages": [{"role": "user", "content": "Write a long story about the sea."}],
    }
    plain: list[httpx.Response] = []
    waiting = threading.Thread(
        target=lambda: plain.append(httpx.post(url, json=long, headers=AUTH, timeout=120))
    )
    waiting.start()
    with httpx.stream(
        "POST", url, json={**long, "stream": True}, headers=AUTH, timeout=120
    ) as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines()
        for line in lines:
            if '"content":"' in line and '"content":""' not in line:
                break  # the stream is generating
        time.sleep(0.3)
        assert waiting.is_alive()  # the other one is generating too, no byte sent yet
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        rest = list(lines)
    waiting.join(timeout=30)
    assert time.monotonic() - killed < 10  # answered at once, not after a timeout
    events = [json.loads(line[6:]) for line in rest if line.startswith("data: {")]
    assert [line for line in rest if line][-1] == "data: [DONE]"
    error = events[-1]["error"]
    assert error["type"] == "server_error" and error["code"] == "service_unavailable"
    assert "restarting" in error["message"]
    assert plain[0].status_code == 503, plain[0].text
    assert plain[0].headers["retry-after"] == "5"
    assert plain[0].json()["error"]["code"] == "service_unavailable"
    served.wait_for_line("Model server exited with code -9; restarting", timeout=30)
    state = _wait_restarted(served, pid)
    assert state["last_restart_cause"] == "exited with code -9"
    after = client(served).chat.completions.create(
        model="gpt-4o", max_tokens=2, messages=[{"role": "user", "content": "hi"}]
    )
    assert after.choices[0].message.content is not None


def test_gateway_log_never_shows_keys(served: ServeProcess) -> None:
    assert TOKEN not in served.output
    log = Path(served.env["CONG_DATA_DIR"]) / "logs" / "model-server.log"
    assert log.exists() and TOKEN not in log.read_text(errors="replace")


def test_extra_gguf_from_config_does_tools_and_json(served: ServeProcess) -> None:
    models = [m.id for m in client(served).models.list().data]
    assert EXTRA in models and "mine" in models
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    called = client(served).chat.completions.create(
        model="mine",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[weather],  # type: ignore[list-item]
        tool_choice="required",
        max_tokens=48,
        temperature=0,
    )
    assert called.model == "mine"
    calls = called.choices[0].message.tool_calls
    assert calls and calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    assert "city" in json.loads(calls[0].function.arguments)  # type: ignore[union-attr]
    shaped = client(served).chat.completions.create(
        model=EXTRA,
        messages=[{"role": "user", "content": "Give me a JSON object about a cat."}],
        response_format={"type": "json_object"},
        max_tokens=40,
        temperature=0,
    )
    content = shaped.choices[0].message.content or ""
    if shaped.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(content), dict)
    else:
        assert content.lstrip().startswith("{")


def test_model_server_answers_only_the_gateway(served: ServeProcess) -> None:
    state = Path(served.env["CONG_DATA_DIR"]) / "model-server.json"
    port = json.loads(state.read_text())["port"]
    direct = f"http://127.0.0.1:{port}"
    for path in ("/health", "/v1/models"):
        refused = httpx.get(direct + path, timeout=10)
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_api_key"
    wrong = httpx.get(direct + "/v1/models", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_anthropic_sdk_and_responses_on_the_embedded_model(served: ServeProcess) -> None:
    """The inbound Messages and Responses APIs translate onto the embedded model too."""
    import anthropic

    claude = anthropic.Anthropic(base_url=served.url, auth_token=TOKEN, max_retries=0)
    with claude.messages.stream(
        model="gpt-4o", max_tokens=8, messages=[{"role": "user", "content": "Say hello."}]
    ) as stream:
        message = stream.get_final_message()
    assert message.content and message.content[0].type == "text" and message.content[0].text
    assert 0 < message.usage.output_tokens <= 8
    response = client(served).responses.create(
        model="gpt-4o", input="Say hello.", max_output_tokens=8, store=False
    )
    assert response.output_text and response.usage is not None
    assert response.usage.output_tokens <= 8

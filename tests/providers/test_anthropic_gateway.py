"""End to end: the official openai SDK → the gateway → the Anthropic provider → the fake
Messages API. Answers are checked against the official OpenAI spec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.fakes.anthropic_upstream import API_KEY, Recorder, create_fake_anthropic
from tests.support.gateway import RunningGateway, fresh_database, start_gateway
from tests.support.openapi_spec import validate_schema
from tests.support.servers import ServerThread

SONNET = "anthropic/claude-sonnet-4"
HI: list[Any] = [{"role": "user", "content": "hi"}]
# Each failure scenario on a channel of its own: a failing channel cools down.
FAILURES = ["claude-429", "claude-529", "claude-400", "claude-500", "claude-midstream-error"]


def channels(url: str) -> list[dict[str, Any]]:
    healthy = ["claude-tools", "claude-thinking", "claude-slow"]
    result: list[dict[str, Any]] = [
        {
            "name": "claude",
            "type": "anthropic",
            "base_url": url,
            "api_key": API_KEY,
            "models": [SONNET, *(f"anthropic/{m}" for m in healthy)],
            "model_map": {
                SONNET: "claude-sonnet-4-20250514",
                **{f"anthropic/{m}": m for m in healthy},
            },
        }
    ]
    for model in FAILURES:
        result.append(
            {
                "name": model,
                "type": "anthropic",
                "base_url": url + "/v1",
                "api_key": API_KEY,
                "models": [f"anthropic/{model}"],
                "model_map": {f"anthropic/{model}": model},
            }
        )
    result.append(
        {
            "name": "badkey",
            "type": "anthropic",
            "base_url": url,
            "api_key": "sk-ant-wrong-secret-key",
            "models": ["anthropic/badkey"],
            "model_map": {"anthropic/badkey": "claude-sonnet-4-20250514"},
        }
    )
    return result


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningGateway, Recorder]]:
    recorder = Recorder()
    tmp = tmp_path_factory.mktemp("anthropic")
    with ServerThread(create_fake_anthropic(recorder)) as fake:
        gateway, server = start_gateway(
            fresh_database("sqlite", Path(tmp), None),
            Path(tmp) / "data",
            upstreams=channels(fake.url),
            model_server={"enabled": False},
        )
        try:
            yield gateway, recorder
        finally:
            server.__exit__()


def client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.admin_token, max_retries=0)


def raw_post(gw: RunningGateway, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/chat/completions",
        json=body,
        timeout=30,
        headers={"authorization": f"Bearer {gw.admin_token}"},
    )


def sse_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    lines = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [orjson.loads(line) for line in lines[:-1]]


def test_non_stream_matches_the_spec(setup: tuple[RunningGateway, Recorder]) -> None:
    gw, recorder = setup
    response = raw_post(gw, {"model": SONNET, "messages": HI})
    assert response.status_code == 200
    body = response.json()
    validate_schema(body, "CreateChatCompletionResponse")
    assert body["model"] == SONNET
    assert recorder.requests[-1]["model"] == "claude-sonnet-4-20250514"
    reply = client(gw).chat.completions.create(model=SONNET, messages=HI)
    assert reply.choices[0].message.content == "Hello from Claude"
    assert reply.usage is not None and reply.usage.total_tokens == 23
    assert reply.usage.prompt_tokens_details is not None
    assert reply.usage.prompt_tokens_details.cached_tokens == 4


def test_stream_matches_the_spec(setup: tuple[RunningGateway, Recorder]) -> None:
    gw, _ = setup
    response = raw_post(
        gw,
        {
            "model": SONNET,
            "messages": HI,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    chunks = sse_chunks(response)
    for chunk in chunks:
        validate_schema(chunk, "CreateChatCompletionStreamResponse")
        assert chunk["model"] == SONNET
    stream = client(gw).chat.completions.create(
        model=SONNET, messages=HI, stream=True, stream_options={"include_usage": True}
    )
    parts = list(stream)
    assert parts[0].choices[0].delta.role == "assistant"
    assert "".join(p.choices[0].delta.content or "" for p in parts if p.choices) == (
        "Hello from Claude"
    )
    assert parts[-1].choices == [] and parts[-1].usage is not None
    assert parts[-1].usage.completion_tokens == 5


def test_stream_without_usage_option_hides_usage(setup: tuple[RunningGateway, Recorder]) -> None:
    gw, _ = setup
    parts = list(client(gw).chat.completions.create(model=SONNET, messages=HI, stream=True))
    assert all(p.choices and p.usage is None for p in parts)


TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def test_tool_calls_round_trip(setup: tuple[RunningGateway, Recorder]) -> None:
    gw, recorder = setup
    sdk = client(gw)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris and Tokyo?"}]
    reply = sdk.chat.completions.create(
        model="anthropic/claude-tools", messages=messages, tools=TOOLS, tool_choice="auto"
    )
    assert reply.choices[0].finish_reason == "tool_calls"
    calls = reply.choices[0].message.tool_calls or []
    cities = [
        orjson.loads(c.function.arguments)["city"]  # type: ignore[union-attr]
        for c in calls
    ]
    assert cities == ["Paris", "Tokyo"]
    messages.append(reply.choices[0].message.model_dump(exclude_none=True))
    for call in calls:
        messages.append({"role": "tool", "tool_call_id": call.id, "content": "20C"})
    follow = sdk.chat.completions.create(model=SONNET, messages=messages, tools=TOOLS)
    assert follow.choices[0].message.content == "Hello from Claude"
    sent = recorder.requests[-1]["messages"]
    assert [b["type"] for b in sent[1]["content"]] == ["text", "tool_use", "tool_use"]
    assert [b["type"] for b in sent[2]["content"]] == ["tool_result", "tool_result"]


def test_stream_tool_calls(setup: tuple[RunningGateway, Recorder]) -> None:
    gw, _ = setup
    response = raw_post(
        gw, {"model": "anthropic/claude-tools", "messages": HI, "tools": TOOLS, "stream": True}
    )
    chunks = sse_chunks(response)
    args: dict[int, str] = {}
    for chunk in chunks:
        validate_schema(chunk, "CreateChatCompletionStreamResponse")
        for call in chunk["choices"][0]["delta"].get("tool_calls") or []:
            args[call["index"]] = args.get(call["index"], "") + call["function"]["arguments"]
    assert [orjson.loads(a)["city"] for a in args.values()] == ["Paris", "Tokyo"]


def test_reasoning_and_images(setup: tuple[RunningGateway, Recorder]) -> None:
    gw, recorder = setup
    body = {
        "model": "anthropic/claude-thinking",
        "reasoning_effort": "high",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0K"}},
                ],
            }
        ],
    }
    response = raw_post(gw, body)
    validate_schema(response.json(), "CreateChatCompletionResponse")
    assert response.json()["choices"][0]["message"]["reasoning_content"] == "2 plus 2 is 4."
    sent = recorder.requests[-1]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 16384}
    assert sent["messages"][0]["content"][1]["source"]["media_type"] == "image/png"


def test_errors_map_to_sdk_exceptions(setup: tuple[RunningGateway, Recorder]) -> None:
    gw, _ = setup
    sdk = client(gw)
    with pytest.raises(openai.RateLimitError) as limited:
        sdk.chat.completions.create(model="anthropic/claude-429", messages=HI)
    assert limited.value.response.headers.get("retry-after") == "7"
    with pytest.raises(openai.InternalServerError) as overloaded:
        sdk.chat.completions.create(model="anthropic/claude-529", messages=HI)
    assert overloaded.value.status_code == 503
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(model="anthropic/claude-400", messages=HI)
    assert "prompt is too long" in bad.value.message
    with pytest.raises(openai.InternalServerError) as failed:
        sdk.chat.completions.create(model="anthropic/claude-500", messages=HI)
    assert failed.value.status_code == 502
    with pytest.raises(openai.InternalServerError) as rejected:
        sdk.chat.completions.create(model="anthropic/badkey", messages=HI)
    assert "credentials" in rejected.value.message and "sk-ant" not in rejected.value.message


def test_midstream_error_reaches_the_sdk(setup: tuple[RunningGateway, Recorder]) -> None:
    gw, _ = setup
    stream = client(gw).chat.completions.create(
        model="anthropic/claude-midstream-error", messages=HI, stream=True
    )
    text = ""
    with pytest.raises(openai.APIError) as error:
        for part in stream:
            text += part.choices[0].delta.content or "" if part.choices else ""
    assert text == "Hello " and "overloaded" in error.value.message.lower()

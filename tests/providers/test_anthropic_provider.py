"""The Anthropic provider against the fake Messages API (real HTTP and SSE)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest

from cong.protocol.errors import APIError
from cong.providers.anthropic import Anthropic
from cong.providers.base import Timeouts, UpstreamConfig
from cong.providers.registry import build_provider
from tests.fakes.anthropic_upstream import Recorder, create_fake_anthropic
from tests.support.openapi_spec import validate_schema
from tests.support.servers import ServerThread
from tests.support.streams import chunks

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    with ServerThread(create_fake_anthropic(recorder)) as server:
        yield server.url, recorder


@pytest.fixture
async def provider(fake: tuple[str, Recorder]) -> AsyncIterator[Anthropic]:
    p = Anthropic(
        UpstreamConfig(name="claude", base_url=fake[0], api_key="sk-ant-test", label="'claude'")
    )
    yield p
    await p.close()


async def collect(stream: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk async for chunk in chunks(stream)]


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


async def test_registry_builds_the_provider(fake: tuple[str, Recorder]) -> None:
    built = build_provider("anthropic", UpstreamConfig(name="c", base_url=fake[0]))
    assert isinstance(built, Anthropic)
    await built.close()


async def test_chat_sends_anthropic_headers_and_body(
    provider: Anthropic, fake: tuple[str, Recorder]
) -> None:
    reply = await provider.chat(
        {
            "model": "claude-sonnet-4-20250514",
            "messages": HI,
            "temperature": 0.3,
            "stream_options": {"include_usage": True},
        }
    )
    validate_schema(reply, "CreateChatCompletionResponse")
    assert reply["choices"][0]["message"]["content"] == "Hello from Claude"
    assert reply["id"] == "chatcmpl-msg_01Fake"
    assert reply["usage"]["prompt_tokens"] == 18 and reply["usage"]["completion_tokens"] == 5
    headers, body = fake[1].headers[-1], fake[1].requests[-1]
    assert headers["x-api-key"] == "sk-ant-test"
    assert headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in headers
    assert body == {
        "model": "claude-sonnet-4-20250514",
        "max_tokens": 4096,
        "temperature": 0.3,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_base_url_with_or_without_v1(fake: tuple[str, Recorder], suffix: str) -> None:
    p = Anthropic(
        UpstreamConfig(
            name="c",
            base_url=fake[0] + suffix,
            api_key="sk-ant-test",
            api_version="2023-01-01",
            headers={"anthropic-beta": "x"},
        )
    )
    try:
        reply = await p.chat({"model": "claude-sonnet-4-20250514", "messages": HI})
        assert reply["choices"][0]["message"]["content"] == "Hello from Claude"
        assert fake[1].headers[-1]["anthropic-version"] == "2023-01-01"
        assert fake[1].headers[-1]["anthropic-beta"] == "x"
        assert await p.probe() is True
    finally:
        await p.close()


async def test_stream_text(provider: Anthropic, fake: tuple[str, Recorder]) -> None:
    chunks = await collect(
        provider.stream_chat({"model": "claude-sonnet-4-20250514", "messages": HI, "stream": True})
    )
    for chunk in chunks:
        validate_schema(chunk, "CreateChatCompletionStreamResponse")
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert text_of(chunks) == "Hello from Claude"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 23
    assert fake[1].requests[-1]["stream"] is True


def tool_request(stream: bool) -> dict[str, Any]:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    return {"model": "claude-tools", "messages": HI, "tools": [tool], "stream": stream}


async def test_tool_calls(provider: Anthropic) -> None:
    reply = await provider.chat(tool_request(False))
    validate_schema(reply, "CreateChatCompletionResponse")
    calls = reply["choices"][0]["message"]["tool_calls"]
    assert [orjson.loads(c["function"]["arguments"])["city"] for c in calls] == ["Paris", "Tokyo"]
    assert [c["id"] for c in calls] == ["toolu_01A", "toolu_01B"]
    assert reply["choices"][0]["finish_reason"] == "tool_calls"


async def test_stream_tool_calls_reassemble(provider: Anthropic) -> None:
    chunks = await collect(provider.stream_chat(tool_request(True)))
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        validate_schema(chunk, "CreateChatCompletionStreamResponse")
        for choice in chunk["choices"]:
            for call in choice["delta"].get("tool_calls") or []:
                entry = calls.setdefault(call["index"], {"id": "", "name": "", "args": ""})
                entry["id"] += call.get("id", "")
                entry["name"] += call.get("function", {}).get("name", "")
                entry["args"] += call.get("function", {}).get("arguments", "")
    assert [(c["id"], c["name"], orjson.loads(c["args"])) for c in calls.values()] == [
        ("toolu_01A", "get_weather", {"city": "Paris", "unit": "c"}),
        ("toolu_01B", "get_weather", {"city": "Tokyo", "unit": "c"}),
    ]
    assert text_of(chunks) == "Let me check both cities."
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_thinking(provider: Anthropic, fake: tuple[str, Recorder]) -> None:
    body = {
        "model": "claude-thinking",
        "messages": HI,
        "reasoning_effort": "medium",
        "temperature": 0.5,
    }
    reply = await provider.chat(body)
    assert fake[1].requests[-1]["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert reply["choices"][0]["message"]["reasoning_content"] == "2 plus 2 is 4."
    assert reply["choices"][0]["message"]["content"] == "The answer is 4."
    chunks = await collect(provider.stream_chat({**body, "stream": True}))
    reasoning = "".join(
        c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks if c["choices"]
    )
    assert reasoning == "2 plus 2 is 4." and text_of(chunks) == "The answer is 4."


@pytest.mark.parametrize(
    ("model", "status", "retry_after"),
    [
        ("claude-429", 429, "7"),
        ("claude-529", 503, "3"),
        ("claude-400", 400, None),
        ("claude-404", 502, None),  # the channel's model is missing: fail over
        ("claude-500", 502, None),
    ],
)
async def test_errors(
    provider: Anthropic, model: str, status: int, retry_after: str | None
) -> None:
    for stream in (False, True):
        body = {"model": model, "messages": HI}
        with pytest.raises(APIError) as error:
            if stream:
                await collect(provider.stream_chat({**body, "stream": True}))
            else:
                await provider.chat(body)
        assert error.value.status == status
        assert error.value.headers.get("retry-after") == retry_after
    if model == "claude-400":
        assert "prompt is too long" in error.value.message


async def test_wrong_key_is_the_gateways_problem(fake: tuple[str, Recorder]) -> None:
    p = Anthropic(
        UpstreamConfig(name="c", base_url=fake[0], api_key="sk-ant-wrong-key-123", label="'claude'")
    )
    try:
        with pytest.raises(APIError) as error:
            await p.chat({"model": "claude-sonnet-4-20250514", "messages": HI})
        assert error.value.status == 502 and "sk-ant" not in error.value.message
    finally:
        await p.close()


async def test_invalid_request_is_rejected_before_sending(
    provider: Anthropic, fake: tuple[str, Recorder]
) -> None:
    sent = len(fake[1].requests)
    with pytest.raises(APIError) as error:
        await collect(
            provider.stream_chat(
                {"model": "claude-sonnet-4-20250514", "n": 3, "messages": HI, "stream": True}
            )
        )
    assert error.value.status == 400 and len(fake[1].requests) == sent


async def test_midstream_error_event_raises_after_the_first_chunks(provider: Anthropic) -> None:
    received: list[dict[str, Any]] = []
    with pytest.raises(APIError) as error:
        async for chunk in chunks(
            provider.stream_chat(
                {"model": "claude-midstream-error", "messages": HI, "stream": True}
            )
        ):
            received.append(chunk)
    assert error.value.status == 503 and error.value.type == "server_error"
    assert received[0]["choices"][0]["delta"]["role"] == "assistant"
    assert text_of(received) == "Hello "


async def test_closing_the_stream_disconnects_upstream(
    provider: Anthropic, fake: tuple[str, Recorder]
) -> None:
    stream = chunks(provider.stream_chat({"model": "claude-slow", "messages": HI, "stream": True}))
    seen = 0
    async for chunk in stream:
        seen += bool(chunk["choices"] and chunk["choices"][0]["delta"].get("content"))
        if seen == 2:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    await asyncio.sleep(0.5)
    sent = fake[1].slow_sent
    await asyncio.sleep(0.4)
    assert fake[1].slow_sent == sent < 15
    assert not fake[1].slow_finished


@pytest.mark.parametrize("method", ["completion", "embed", "images"])
async def test_other_endpoints_are_unsupported(provider: Anthropic, method: str) -> None:
    with pytest.raises(APIError) as error:
        await getattr(provider, method)({"model": "claude-sonnet-4-20250514"})
    assert error.value.status == 400 and error.value.code == "unsupported_by_upstream"
    with pytest.raises(APIError) as error:
        await collect(provider.stream_completion({"model": "claude-sonnet-4-20250514"}))
    assert error.value.code == "unsupported_by_upstream"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_upstream() -> None:
    p = Anthropic(
        UpstreamConfig(
            name="c",
            base_url=f"http://127.0.0.1:{free_port()}",
            api_key="k",
            timeouts=Timeouts(connect=1),
        )
    )
    try:
        assert await p.probe() is False
        with pytest.raises(APIError) as error:
            await p.chat({"model": "claude-sonnet-4-20250514", "messages": HI})
        assert error.value.status == 503
    finally:
        await p.close()

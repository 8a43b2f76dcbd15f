"""End to end: the official openai SDK -> the gateway -> the fake Gemini API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.fakes.gemini_upstream import API_KEY, GeminiRecorder, create_fake_gemini
from tests.support.gateway import RunningGateway, fresh_database, start_gateway
from tests.support.openapi_spec import validate_schema
from tests.support.servers import ServerThread

HI: list[Any] = [{"role": "user", "content": "hi"}]
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
# Failure scenarios each on a channel of their own (a failing channel cools down).
FAILING = ["gemini-blocked", "gemini-429", "gemini-500"]


def _channels(url: str) -> list[dict[str, object]]:
    base = {"type": "gemini", "base_url": url + "/v1beta", "api_key": API_KEY}
    channels: list[dict[str, object]] = [
        {
            **base,
            "name": "gem",
            "models": ["google/gemini-2.5-flash", "gemini-tool", "gemini-thinking", "gemini-echo"],
            "embedding_models": ["google/text-embedding-004"],
            "model_map": {
                "google/gemini-2.5-flash": "gemini-2.5-flash",
                "google/text-embedding-004": "text-embedding-004",
            },
        }
    ]
    channels += [{**base, "name": model, "models": [model]} for model in FAILING]
    channels.append(
        {
            **base,
            "name": "gem-badkey",
            "api_key": "AIzaWRONGwrongWRONGwrong",
            "models": ["google/gemini-badkey"],
            "model_map": {"google/gemini-badkey": "gemini-2.5-flash"},
        }
    )
    return channels


@pytest.fixture(scope="module")
def gemini_gateway(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningGateway, GeminiRecorder]]:
    recorder = GeminiRecorder()
    tmp: Path = tmp_path_factory.mktemp("gemgw")
    with ServerThread(create_fake_gemini(recorder)) as fake:
        running, server = start_gateway(
            fresh_database("sqlite", tmp, None),
            tmp / "data",
            upstreams=_channels(fake.url),
            model_server={"enabled": False},
            routing={"retries_per_channel": 0},
        )
        try:
            yield running, recorder
        finally:
            server.__exit__()


def client(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.admin_token, max_retries=0)


def test_chat_and_stream(gemini_gateway: tuple[RunningGateway, GeminiRecorder]) -> None:
    gw, recorder = gemini_gateway
    sdk = client(gw)
    reply = sdk.chat.completions.with_raw_response.create(
        model="google/gemini-2.5-flash", messages=HI, max_tokens=20
    )
    answer = reply.http_response.json()
    validate_schema(answer, "CreateChatCompletionResponse")
    assert answer["model"] == "google/gemini-2.5-flash"
    assert answer["choices"][0]["message"]["content"] == "Hello from Gemini"
    assert recorder.requests[-1]["generationConfig"] == {"maxOutputTokens": 20}
    assert recorder.paths[-1].startswith("/v1beta/models/gemini-2.5-flash:generateContent")

    stream = sdk.chat.completions.create(
        model="google/gemini-2.5-flash",
        messages=HI,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    for chunk in chunks:
        validate_schema(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == "Hello from Gemini"
    )
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 12
    hidden = list(
        sdk.chat.completions.create(model="google/gemini-2.5-flash", messages=HI, stream=True)
    )
    assert all(c.usage is None and c.choices for c in hidden)


def test_tool_round_trip(gemini_gateway: tuple[RunningGateway, GeminiRecorder]) -> None:
    gw, recorder = gemini_gateway
    sdk = client(gw)
    first = sdk.chat.completions.create(
        model="gemini-tool", messages=HI, tools=[WEATHER], tool_choice="auto"
    )
    calls: Any = first.choices[0].message.tool_calls
    call = calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert json.loads(call.function.arguments) == {"city": "Hanoi"}
    sent = recorder.requests[-1]
    assert sent["tools"][0]["functionDeclarations"][0]["parameters"] == {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    assistant: Any = first.choices[0].message.model_dump(exclude_none=True)
    result: Any = {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 31}'}
    sdk.chat.completions.create(
        model="gemini-echo", tools=[WEATHER], messages=[*HI, assistant, result]
    )
    contents = recorder.requests[-1]["contents"]
    assert contents[1]["parts"][0]["thoughtSignature"] == "c2lnLTE="
    assert contents[2]["parts"][0]["functionResponse"] == {
        "name": "get_weather",
        "response": {"temp": 31},
    }


def test_reasoning_stream(gemini_gateway: tuple[RunningGateway, GeminiRecorder]) -> None:
    gw, recorder = gemini_gateway
    chunks = list(
        client(gw).chat.completions.create(
            model="gemini-thinking",
            messages=HI,
            stream=True,
            reasoning_effort="medium",
            stream_options={"include_usage": True},
        )
    )
    assert recorder.requests[-1]["generationConfig"]["thinkingConfig"] == {
        "thinkingBudget": 8192,
        "includeThoughts": True,
    }
    thought = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices
    )
    assert thought == "Let me think."
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 31
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 30


def test_embeddings(gemini_gateway: tuple[RunningGateway, GeminiRecorder]) -> None:
    gw, recorder = gemini_gateway
    sdk = client(gw)
    packed = sdk.embeddings.create(
        model="google/text-embedding-004", input=["a", "bcd"], dimensions=4
    )  # the SDK asks for base64 and decodes it
    assert packed.model == "google/text-embedding-004"
    assert [len(d.embedding) for d in packed.data] == [4, 4]
    assert recorder.requests[-1]["requests"][0]["outputDimensionality"] == 4
    raw = sdk.embeddings.with_raw_response.create(
        model="google/text-embedding-004", input="hello", encoding_format="float"
    )
    answer = raw.http_response.json()
    validate_schema(answer, "CreateEmbeddingResponse")
    assert answer["data"][0]["embedding"] == [5.0, 0.5, 0.5, 0.5]


def test_errors(gemini_gateway: tuple[RunningGateway, GeminiRecorder]) -> None:
    gw, _ = gemini_gateway
    sdk = client(gw)
    with pytest.raises(openai.BadRequestError) as blocked:
        sdk.chat.completions.create(model="gemini-blocked", messages=HI)
    assert blocked.value.code == "content_filter" and "SAFETY" in blocked.value.message
    with pytest.raises(openai.BadRequestError) as blocked_stream:
        list(sdk.chat.completions.create(model="gemini-blocked", messages=HI, stream=True))
    assert blocked_stream.value.code == "content_filter"
    with pytest.raises(openai.RateLimitError) as limited:
        sdk.chat.completions.create(model="gemini-429", messages=HI)
    assert limited.value.response.headers.get("retry-after") == "7"
    with pytest.raises(openai.InternalServerError) as failed:
        sdk.chat.completions.create(model="gemini-500", messages=HI)
    assert failed.value.status_code == 502
    with pytest.raises(openai.InternalServerError) as denied:
        sdk.chat.completions.create(model="google/gemini-badkey", messages=HI)
    assert (denied.value.status_code, denied.value.code) == (502, "upstream_auth_failed")
    assert "AIza" not in denied.value.response.text
    with pytest.raises(openai.BadRequestError) as legacy:
        sdk.completions.create(model="google/gemini-2.5-flash", prompt="x")
    assert legacy.value.code == "unsupported_by_upstream"

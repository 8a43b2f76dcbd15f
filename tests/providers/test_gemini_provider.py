"""The Gemini provider against the fake Gemini API (real HTTP, real SSE)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from cong.protocol.errors import CREDENTIALS_REJECTED, APIError
from cong.providers.base import UpstreamConfig
from cong.providers.gemini import Gemini
from cong.providers.registry import build_provider
from tests.fakes.gemini_upstream import API_KEY, GeminiRecorder, create_fake_gemini
from tests.support.openapi_spec import validate_schema
from tests.support.servers import ServerThread
from tests.support.streams import chunks as stream_chunks

HI: list[Any] = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def fake_gemini() -> Iterator[tuple[str, GeminiRecorder]]:
    recorder = GeminiRecorder()
    with ServerThread(create_fake_gemini(recorder)) as server:
        yield server.url, recorder


def provider(url: str, key: str = API_KEY) -> Gemini:
    config = UpstreamConfig(name="gem", base_url=url + "/v1beta/", api_key=key, label="'gem'")
    built = build_provider("gemini", config)
    assert isinstance(built, Gemini)
    return built


async def collect(gemini: Gemini, body: dict[str, Any]) -> list[dict[str, Any]]:
    return [chunk async for chunk in stream_chunks(gemini.stream_chat(body))]


async def test_chat_sends_the_key_header_and_translates(
    fake_gemini: tuple[str, GeminiRecorder],
) -> None:
    url, recorder = fake_gemini
    gemini = provider(url)
    try:
        answer = await gemini.chat(
            {"model": "gemini-2.5-flash", "messages": HI, "temperature": 0.5}
        )
        assert await gemini.probe()
    finally:
        await gemini.close()
    validate_schema(answer, "CreateChatCompletionResponse")
    assert answer["choices"][0]["message"]["content"] == "Hello from Gemini"
    assert answer["usage"]["total_tokens"] == 12
    assert recorder.paths[-1] == "/v1beta/models/gemini-2.5-flash:generateContent?"
    assert recorder.headers[-1]["x-goog-api-key"] == API_KEY
    assert "authorization" not in recorder.headers[-1]
    assert recorder.requests[-1] == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"temperature": 0.5},
    }


async def test_stream_ends_with_usage(fake_gemini: tuple[str, GeminiRecorder]) -> None:
    url, recorder = fake_gemini
    gemini = provider(url)
    try:
        chunks = await collect(
            gemini, {"model": "gemini-2.5-flash", "messages": HI, "stream": True}
        )
    finally:
        await gemini.close()
    assert recorder.paths[-1].endswith(":streamGenerateContent?alt=sse")
    for chunk in chunks:
        validate_schema(chunk, "CreateChatCompletionStreamResponse")
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hello from Gemini"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3


async def test_tool_call_thinking_and_candidates(fake_gemini: tuple[str, GeminiRecorder]) -> None:
    gemini = provider(fake_gemini[0])
    try:
        tool = await gemini.chat({"model": "gemini-tool", "messages": HI})
        thinking = await collect(
            gemini,
            {
                "model": "gemini-thinking",
                "messages": HI,
                "stream": True,
                "reasoning_effort": "high",
            },
        )
        two = await gemini.chat({"model": "gemini-two", "messages": HI, "n": 2})
    finally:
        await gemini.close()
    call = tool["choices"][0]["message"]["tool_calls"][0]
    assert tool["choices"][0]["finish_reason"] == "tool_calls"
    assert call["function"]["name"] == "get_weather"
    assert orjson.loads(call["function"]["arguments"]) == {"city": "Hanoi"}
    assert call["id"].endswith("__thought__c2lnLTE=")
    reasoning = "".join(
        c["choices"][0]["delta"].get("reasoning_content") or "" for c in thinking if c["choices"]
    )
    assert reasoning == "Let me think."
    assert thinking[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] == 30
    assert [c["message"]["content"] for c in two["choices"]] == ["one", "two"]
    assert [c["finish_reason"] for c in two["choices"]] == ["stop", "length"]


async def test_safety_outcomes(fake_gemini: tuple[str, GeminiRecorder]) -> None:
    gemini = provider(fake_gemini[0])
    try:
        with pytest.raises(APIError) as blocked:
            await gemini.chat({"model": "gemini-blocked", "messages": HI})
        with pytest.raises(APIError) as blocked_stream:
            await collect(gemini, {"model": "gemini-blocked", "messages": HI, "stream": True})
        unsafe = await gemini.chat({"model": "gemini-unsafe", "messages": HI})
        unsafe_stream = await collect(
            gemini, {"model": "gemini-unsafe", "messages": HI, "stream": True}
        )
    finally:
        await gemini.close()
    for error in (blocked.value, blocked_stream.value):
        assert (error.status, error.code) == (400, "content_filter")
        assert "SAFETY" in error.message
    assert unsafe["choices"][0]["finish_reason"] == "content_filter"
    assert unsafe_stream[-2]["choices"][0]["finish_reason"] == "content_filter"


@pytest.mark.parametrize(
    ("model", "status", "code"),
    [
        ("gemini-429", 429, "rate_limit_exceeded"),
        ("gemini-500", 502, "upstream_error"),
        ("gemini-503", 503, "service_unavailable"),
        ("gemini-missing", 502, "upstream_endpoint_missing"),  # the channel's fault
    ],
)
async def test_upstream_errors(
    fake_gemini: tuple[str, GeminiRecorder], model: str, status: int, code: str
) -> None:
    gemini = provider(fake_gemini[0])
    try:
        with pytest.raises(APIError) as error:
            await gemini.chat({"model": model, "messages": HI})
        with pytest.raises(APIError) as streamed:
            await collect(gemini, {"model": model, "messages": HI, "stream": True})
    finally:
        await gemini.close()
    for failure in (error.value, streamed.value):
        assert (failure.status, failure.code) == (status, code)
    if status == 429:
        assert error.value.headers == {"retry-after": "7"}


async def test_bad_key_midstream_error_and_unsupported(
    fake_gemini: tuple[str, GeminiRecorder],
) -> None:
    url = fake_gemini[0]
    wrong = provider(url, key="AIzaWRONGwrongWRONGwrong")
    gemini = provider(url)
    try:
        with pytest.raises(APIError) as denied:
            await wrong.chat({"model": "gemini-2.5-flash", "messages": HI})
        chunks: list[dict[str, Any]] = []
        with pytest.raises(APIError) as midstream:
            async for chunk in stream_chunks(
                gemini.stream_chat(
                    {"model": "gemini-midstream-error", "messages": HI, "stream": True}
                )
            ):
                chunks.append(chunk)
        with pytest.raises(APIError) as legacy:
            await gemini.completion({"model": "gemini-2.5-flash", "prompt": "x"})
        with pytest.raises(APIError) as legacy_stream:
            await anext(gemini.stream_completion({"model": "gemini-2.5-flash", "prompt": "x"}))
        with pytest.raises(APIError) as images:
            await gemini.images({"model": "gemini-2.5-flash", "prompt": "x"})
    finally:
        await wrong.close()
        await gemini.close()
    assert (denied.value.status, denied.value.code) == (502, CREDENTIALS_REJECTED)
    assert "AIza" not in denied.value.message
    assert chunks[0]["choices"][0]["delta"]["content"] == "Hello"
    assert midstream.value.status == 503
    for error in (legacy.value, legacy_stream.value, images.value):
        assert (error.status, error.code) == (400, "unsupported_by_upstream")


async def test_embeddings(fake_gemini: tuple[str, GeminiRecorder]) -> None:
    url, recorder = fake_gemini
    gemini = provider(url)
    try:
        answer = await gemini.embed(
            {"model": "text-embedding-004", "input": ["hi", "there"], "dimensions": 3}
        )
    finally:
        await gemini.close()
    validate_schema(answer, "CreateEmbeddingResponse")
    assert recorder.paths[-1] == "/v1beta/models/text-embedding-004:batchEmbedContents?"
    assert recorder.requests[-1]["requests"][1]["outputDimensionality"] == 3
    assert [len(d["embedding"]) for d in answer["data"]] == [3, 3]
    assert answer["model"] == "text-embedding-004"

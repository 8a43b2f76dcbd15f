"""Anthropic stream events → OpenAI chat.completion.chunk sequences (pure translation)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from cong.protocol.errors import APIError
from cong.providers.anthropic_stream import StreamTranslator, iter_anthropic_stream
from tests.support.openapi_spec import validate_schema

Event = dict[str, Any]


def start(usage: dict[str, Any] | None = None) -> Event:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_01S",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-20250514",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage
            or {
                "input_tokens": 10,
                "cache_read_input_tokens": 3,
                "cache_creation_input_tokens": 0,
                "output_tokens": 1,
            },
        },
    }


def block_start(index: int, block: dict[str, Any]) -> Event:
    return {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, body: dict[str, Any]) -> Event:
    return {"type": "content_block_delta", "index": index, "delta": body}


def text(index: int, value: str) -> Event:
    return delta(index, {"type": "text_delta", "text": value})


def stop(index: int) -> Event:
    return {"type": "content_block_stop", "index": index}


def message_end(reason: str, output: int = 7) -> list[Event]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": None},
            "usage": {"output_tokens": output},
        },
        {"type": "message_stop"},
    ]


def translate(events: list[Event]) -> list[dict[str, Any]]:
    translator = StreamTranslator("claude-x", "'claude'")
    chunks = [c for e in events for c in translator.feed(e)]
    chunks += translator.end()
    for chunk in chunks:
        validate_schema(chunk, "CreateChatCompletionStreamResponse")
    return chunks


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c["choices"][0]["delta"] for c in chunks if c["choices"]]


TEXT_EVENTS = [
    start(),
    block_start(0, {"type": "text", "text": ""}),
    {"type": "ping"},
    text(0, "Hel"),
    text(0, "lo"),
    stop(0),
    *message_end("end_turn"),
]


def test_text_stream() -> None:
    chunks = translate(TEXT_EVENTS)
    assert deltas(chunks) == [
        {"role": "assistant", "content": ""},
        {"content": "Hel"},
        {"content": "lo"},
        {},
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]] == [
        None,
        None,
        None,
        "stop",
    ]
    assert {c["id"] for c in chunks} == {"chatcmpl-msg_01S"}
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["created"] for c in chunks}) == 1


def test_final_chunk_carries_usage_and_no_choices() -> None:
    final = translate(TEXT_EVENTS)[-1]
    assert final["choices"] == []
    assert final["usage"]["prompt_tokens"] == 13
    assert final["usage"]["prompt_tokens_details"]["cached_tokens"] == 3
    assert final["usage"]["completion_tokens"] == 7
    assert final["usage"]["total_tokens"] == 20


def test_message_delta_usage_updates_input_tokens_when_given() -> None:
    events = [
        start({"input_tokens": 0, "output_tokens": 0}),
        text(0, "x"),
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": 40, "output_tokens": 2, "cache_read_input_tokens": None},
        },
        {"type": "message_stop"},
    ]
    usage = translate(events)[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (40, 2)


def test_parallel_tool_calls_stream() -> None:
    events = [
        start(),
        block_start(0, {"type": "text", "text": ""}),
        text(0, "Checking."),
        stop(0),
        block_start(1, {"type": "tool_use", "id": "toolu_A", "name": "get_weather", "input": {}}),
        delta(1, {"type": "input_json_delta", "partial_json": ""}),
        delta(1, {"type": "input_json_delta", "partial_json": '{"city": '}),
        delta(1, {"type": "input_json_delta", "partial_json": '"Paris"}'}),
        stop(1),
        block_start(2, {"type": "tool_use", "id": "toolu_B", "name": "get_weather", "input": {}}),
        delta(2, {"type": "input_json_delta", "partial_json": '{"city": "Tokyo"}'}),
        stop(2),
        *message_end("tool_use"),
    ]
    chunks = translate(events)
    assert deltas(chunks)[1:] == [
        {"content": "Checking."},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "toolu_A",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "toolu_B",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 1, "function": {"arguments": '{"city": "Tokyo"}'}}]},
        {},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_thinking_stream_becomes_reasoning_content() -> None:
    events = [
        start(),
        block_start(0, {"type": "thinking", "thinking": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "Two plus two"}),
        delta(0, {"type": "thinking_delta", "thinking": " is four."}),
        delta(0, {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}),
        stop(0),
        block_start(1, {"type": "redacted_thinking", "data": "abc"}),
        stop(1),
        block_start(2, {"type": "text", "text": ""}),
        text(2, "4"),
        stop(2),
        *message_end("end_turn"),
    ]
    assert deltas(translate(events))[1:] == [
        {"reasoning_content": "Two plus two"},
        {"reasoning_content": " is four."},
        {"content": "4"},
        {},
    ]


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("max_tokens", "length"), ("refusal", "content_filter"), ("stop_sequence", "stop")],
)
def test_stream_stop_reasons(reason: str, finish: str) -> None:
    chunks = translate([start(), text(0, "x"), *message_end(reason)])
    assert chunks[-2]["choices"][0]["finish_reason"] == finish


def test_first_chunk_has_the_role_even_without_message_start() -> None:
    chunks = translate([text(0, "x"), *message_end("end_turn")])
    assert deltas(chunks)[0] == {"role": "assistant", "content": ""}
    assert deltas(chunks)[1] == {"content": "x"}


def test_message_stop_without_stop_reason_still_finishes() -> None:
    chunks = translate([start(), text(0, "x"), {"type": "message_stop"}])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []


def test_stream_cut_after_stop_reason_still_reports_usage() -> None:
    chunks = translate([start(), text(0, "x"), *message_end("end_turn")[:1]])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 7


def test_stream_cut_before_the_end_is_an_error() -> None:
    translator = StreamTranslator("m", "'claude'")
    for event in [start(), text(0, "x")]:
        translator.feed(event)
    with pytest.raises(APIError) as error:
        translator.end()
    assert error.value.status == 502 and "ended the stream early" in error.value.message


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("overloaded_error", 503),
        ("api_error", 502),
        ("rate_limit_error", 429),
        ("invalid_request_error", 400),
        ("authentication_error", 502),
    ],
)
def test_error_event_raises(kind: str, status: int) -> None:
    translator = StreamTranslator("m", "'claude'")
    translator.feed(start())
    with pytest.raises(APIError) as error:
        translator.feed({"type": "error", "error": {"type": kind, "message": "Overloaded"}})
    assert error.value.status == status
    if status == 503:
        assert error.value.headers.get("retry-after")


def test_events_after_message_stop_are_ignored() -> None:
    translator = StreamTranslator("m")
    for event in TEXT_EVENTS:
        translator.feed(event)
    assert translator.feed(text(0, "late")) == []
    assert translator.feed({"type": "error", "error": {"type": "api_error"}}) == []
    assert translator.end() == []


async def test_iter_anthropic_stream() -> None:
    async def events() -> AsyncIterator[Event]:
        for event in TEXT_EVENTS:
            yield event

    chunks = [c async for c in iter_anthropic_stream(events(), "claude-x")]
    assert "".join(d.get("content") or "" for d in deltas(chunks)) == "Hello"
    assert chunks[0]["model"] == "claude-sonnet-4-20250514"
    assert chunks[-1]["usage"]["total_tokens"] == 20

"""Inbound Anthropic Messages ↔ chat (pure translation), checked with the official
``anthropic`` SDK's types and the fake Messages API's request rules."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from anthropic.lib.streaming._messages import accumulate_event

from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.errors import APIError, upstream_unavailable
from cong.protocol.validation import validate
from cong.providers.anthropic_inbound import (
    anthropic_error_body,
    anthropic_message_from_chat,
    chat_request_from_anthropic,
)
from cong.providers.anthropic_inbound_stream import MessageEvents
from cong.providers.anthropic_stream import StreamTranslator
from cong.providers.anthropic_translate import from_anthropic_response, to_anthropic_request
from tests.fakes.anthropic_upstream import answer, check_request

TOOL = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PNG = "iVBORw0KGgo="

CLAUDE_CODE_LIKE: dict[str, Any] = {
    "model": "claude-sonnet-4",
    "max_tokens": 2048,
    "system": [
        {"type": "text", "text": "You are Claude Code."},
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
    ],
    "metadata": {"user_id": "user-42"},
    "stop_sequences": ["</done>"],
    "temperature": 0.2,
    "tools": [TOOL],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": False},
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather in Paris and Tokyo?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "get_weather",
                    "input": {"city": "Tokyo"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "no data"}],
                    "is_error": True,
                },
                {"type": "text", "text": "Summarise."},
            ],
        },
    ],
}


def test_request_maps_every_part_to_a_valid_chat_request() -> None:
    chat = chat_request_from_anthropic(CLAUDE_CODE_LIKE)
    validate(ChatCompletionRequest, chat)  # the gateway's own validation accepts it
    messages = chat["messages"]
    assert messages[0] == {"role": "system", "content": "You are Claude Code.\n\nBe brief."}
    assert messages[1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{PNG}"},
    }
    assert [c["id"] for c in messages[2]["tool_calls"]] == ["toolu_1", "toolu_2"]
    assert messages[3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"}
    assert messages[4] == {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: no data"}
    assert messages[5] == {"role": "user", "content": "Summarise."}
    assert chat["max_completion_tokens"] == 2048
    assert chat["stop"] == ["</done>"]
    assert chat["user"] == "user-42"
    assert chat["tool_choice"] == "auto"
    assert chat["tools"][0]["function"]["parameters"] == TOOL["input_schema"]


def test_round_trip_through_the_outbound_translation_is_a_valid_anthropic_request() -> None:
    """Inbound → chat → outbound gives what the real Messages API accepts, unchanged."""
    outbound = to_anthropic_request(chat_request_from_anthropic(CLAUDE_CODE_LIKE))
    check_request(outbound)
    assert outbound["system"] == "You are Claude Code.\n\nBe brief."
    results = outbound["messages"][2]["content"]
    assert [b["type"] for b in results] == ["tool_result", "tool_result", "text"]


@pytest.mark.parametrize(
    ("thinking", "effort"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, "low"),
        ({"type": "enabled", "budget_tokens": 8000}, "medium"),
        ({"type": "enabled", "budget_tokens": 32000}, "high"),
        ({"type": "disabled"}, None),
    ],
)
def test_thinking_budget_becomes_reasoning_effort(thinking: Any, effort: str | None) -> None:
    chat = chat_request_from_anthropic({**CLAUDE_CODE_LIKE, "thinking": thinking})
    assert chat.get("reasoning_effort") == effort


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice(choice: Any, expected: Any) -> None:
    chat = chat_request_from_anthropic({**CLAUDE_CODE_LIKE, "tool_choice": choice})
    assert chat["tool_choice"] == expected


def test_parallel_tool_use_can_be_disabled() -> None:
    choice = {"type": "auto", "disable_parallel_tool_use": True}
    chat = chat_request_from_anthropic({**CLAUDE_CODE_LIKE, "tool_choice": choice})
    assert chat["parallel_tool_calls"] is False


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools"),
        ({"temperature": 1.5}, "temperature"),  # Anthropic's range is 0 to 1
        ({"temperature": "0.5"}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
    ],
)
def test_bad_requests_are_400(change: dict[str, Any], param: str) -> None:
    with pytest.raises(APIError) as caught:
        chat_request_from_anthropic({**CLAUDE_CODE_LIKE, **change})
    assert caught.value.status == 400
    assert caught.value.param == param


@pytest.mark.parametrize("scenario", ["claude-tools", "claude-thinking", "claude-hello"])
def test_answers_parse_as_sdk_messages(scenario: str) -> None:
    """Fake Anthropic answer → chat (outbound) → Message (inbound): same blocks."""
    blocks, stop = answer(scenario, {})
    upstream = {
        "id": "msg_01X",
        "type": "message",
        "role": "assistant",
        "model": scenario,
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "cache_read_input_tokens": 4, "output_tokens": 5},
    }
    chat = from_anthropic_response(upstream, scenario)
    message = anthropic.types.Message.model_validate(anthropic_message_from_chat(chat, "claude-x"))
    assert message.model == "claude-x"
    assert message.stop_reason == stop
    assert [b.type for b in message.content] == [b["type"] for b in blocks]
    assert message.usage.input_tokens == 12
    assert message.usage.cache_read_input_tokens == 4
    assert message.usage.output_tokens == 5
    if scenario == "claude-tools":
        assert [b.input for b in message.content if b.type == "tool_use"] == [
            {"city": "Paris", "unit": "c"},
            {"city": "Tokyo", "unit": "c"},
        ]


def _upstream_events(scenario: str) -> list[dict[str, Any]]:
    """The events the fake Messages API streams for a scenario (decoded)."""
    blocks, stop = answer(scenario, {})
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_01S",
                "type": "message",
                "role": "assistant",
                "model": scenario,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 12, "output_tokens": 1},
            },
        }
    ]
    for index, block in enumerate(blocks):
        if block["type"] == "tool_use":
            raw = '{"city": "' + block["input"]["city"] + '", "unit": "c"}'
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in (raw[:9], raw[9:])]
            start = {**block, "input": {}}
        elif block["type"] == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": block["thinking"]}]
            start = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            deltas = [{"type": "text_delta", "text": block["text"]}]
            start = {"type": "text", "text": ""}
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": 5},
        }
    )
    events.append({"type": "message_stop"})
    return events


@pytest.mark.parametrize("scenario", ["claude-tools", "claude-thinking", "claude-hello"])
def test_stream_events_accumulate_in_the_sdk_to_the_same_message(scenario: str) -> None:
    outbound = StreamTranslator(scenario)
    inbound = MessageEvents("claude-x", input_tokens=9)
    names: list[str] = []
    snapshot = None
    buffers: dict[int, bytes] = {}
    events: list[tuple[str, dict[str, Any]]] = []
    for upstream in _upstream_events(scenario):
        for chunk in outbound.feed(upstream):
            events += inbound.feed(chunk)
    for chunk in outbound.end():
        events += inbound.feed(chunk)
    events += inbound.end()
    for name, data in events:
        assert data["type"] == name
        names.append(name)
        if name != "ping":
            snapshot = accumulate_event(event=data, current_snapshot=snapshot, json_bufs=buffers)  # type: ignore[arg-type]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop")
    blocks, stop = answer(scenario, {})
    assert snapshot is not None
    assert snapshot.stop_reason == stop
    assert [b.type for b in snapshot.content] == [b["type"] for b in blocks]
    for got, want in zip(snapshot.content, blocks, strict=True):
        if want["type"] == "text":
            assert got.text == want["text"]  # type: ignore[union-attr]
        elif want["type"] == "tool_use":
            assert got.input == want["input"]  # type: ignore[union-attr]
    assert snapshot.usage.output_tokens == 5
    assert snapshot.usage.cache_read_input_tokens is not None


def test_a_failure_mid_stream_is_one_error_event_in_anthropics_envelope() -> None:
    events = MessageEvents("claude-x")
    events.feed({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "Hi"}}]})
    [(name, data)] = events.error(upstream_unavailable("Busy."))
    assert name == "error"
    assert data == {"type": "error", "error": {"type": "overloaded_error", "message": "Busy."}}
    assert events.end() == []


def test_temperature_one_is_accepted() -> None:
    assert chat_request_from_anthropic({**CLAUDE_CODE_LIKE, "temperature": 1})["temperature"] == 1


def test_error_envelope_keeps_the_status() -> None:
    status, body = anthropic_error_body(APIError(429, "Slow down.", type="rate_limit_exceeded"))
    assert status == 429
    assert body["error"]["type"] == "rate_limit_error"

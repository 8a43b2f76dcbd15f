"""OpenAI Responses ↔ chat (pure translation), validated against the official OpenAI spec
and parsed by the official ``openai`` SDK's types."""

from __future__ import annotations

from typing import Any

import openai.types.responses as types
import pytest

from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.errors import APIError, upstream_unavailable
from cong.protocol.responses_input import input_items_of
from cong.protocol.responses_stream import ResponseEvents
from cong.protocol.responses_translate import (
    chat_messages_of_output,
    chat_request_from_responses,
    response_from_chat,
)
from cong.protocol.validation import validate
from tests.support.openapi_spec import validate_response_event, validate_schema

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}
SCHEMA = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
CODEX_LIKE: dict[str, Any] = {
    "model": "gpt-5-codex",
    "instructions": "You are Codex.",
    "input": [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Weather?"}],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {
            "type": "function_call",
            "call_id": "call_2",
            "name": "get_weather",
            "arguments": '{"city":"Hue"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        {
            "type": "function_call_output",
            "call_id": "call_2",
            "output": [{"type": "input_text", "text": "25C"}],
        },
        {"role": "user", "content": "Summarise."},
    ],
    "tools": [TOOL],
    "tool_choice": "auto",
    "parallel_tool_calls": True,
    "reasoning": {"effort": "low", "summary": "auto"},
    "text": {"format": {"type": "json_schema", "name": "answer", "schema": SCHEMA, "strict": True}},
    "max_output_tokens": 300,
    "store": True,
    "stream": True,
}


def chat_answer(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "x",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": 20,
            "completion_tokens": 7,
            "total_tokens": 27,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    }


def test_request_maps_to_a_valid_chat_request() -> None:
    chat = chat_request_from_responses(CODEX_LIKE)
    validate(ChatCompletionRequest, chat)
    roles = [m["role"] for m in chat["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "tool", "user"]
    assert [c["id"] for c in chat["messages"][2]["tool_calls"]] == ["call_1", "call_2"]
    assert chat["messages"][4] == {"role": "tool", "tool_call_id": "call_2", "content": "25C"}
    assert chat["tools"][0]["function"]["name"] == "get_weather"
    assert chat["reasoning_effort"] == "low"
    assert chat["max_completion_tokens"] == 300
    assert chat["response_format"]["json_schema"]["schema"] == SCHEMA
    assert chat["stream_options"] == {"include_usage": True}


def test_string_input_and_history() -> None:
    history = [
        {"role": "user", "content": "My name is Lan."},
        {"role": "assistant", "content": "Hi Lan."},
    ]
    chat = chat_request_from_responses(
        {"model": "m", "input": "Name?", "instructions": "Be kind."}, history
    )
    assert chat["messages"] == [
        {"role": "system", "content": "Be kind."},
        *history,
        {"role": "user", "content": "Name?"},
    ]


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"background": True}, "background"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]"),
        ({"model": ""}, "model"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": "300"}, "max_output_tokens"),
        ({"max_output_tokens": True}, "max_output_tokens"),
    ],
)
def test_unsupported_or_invalid_requests_are_400(change: dict[str, Any], param: str) -> None:
    with pytest.raises(APIError) as caught:
        chat_request_from_responses({**CODEX_LIKE, **change})
    assert caught.value.status == 400
    assert caught.value.param == param


@pytest.mark.parametrize("finish", ["stop", "length"])
def test_response_matches_the_spec_and_the_sdk(finish: str) -> None:
    message = {
        "role": "assistant",
        "content": "Paris is sunny.",
        "reasoning_content": "Look it up.",
        "tool_calls": [
            {
                "id": "call_9",
                "type": "function",
                "function": {"name": "get_weather", "arguments": "{}"},
            }
        ],
    }
    response = response_from_chat(chat_answer(message, finish), CODEX_LIKE, "resp_abc", 5, "codex")
    validate_schema(response, "Response")
    parsed = types.Response.model_validate(response)
    assert parsed.output_text == "Paris is sunny."
    assert [o.type for o in parsed.output] == ["reasoning", "message", "function_call"]
    assert parsed.usage is not None and parsed.usage.input_tokens_details.cached_tokens == 4
    assert parsed.status == ("completed" if finish == "stop" else "incomplete")
    # The output continues the conversation as chat messages.
    again = chat_messages_of_output(response["output"])
    assert again == [
        {"role": "assistant", "content": "Paris is sunny.", "tool_calls": message["tool_calls"]}
    ]


def test_input_items_match_the_spec() -> None:
    items = input_items_of(CODEX_LIKE["input"], "abc")
    listing = {
        "object": "list",
        "data": items,
        "has_more": False,
        "first_id": items[0]["id"],
        "last_id": items[-1]["id"],
    }
    validate_schema(listing, "ResponseItemList")
    assert input_items_of("Hi", "x")[0]["content"] == [{"type": "input_text", "text": "Hi"}]


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


STREAM = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning_content": "Think."}),
    chunk({"content": "Hel"}),
    chunk({"content": "lo"}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": ""},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "g", "arguments": "{}"},
                }
            ]
        }
    ),
    chunk({}, "tool_calls"),
    {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
]


def test_stream_events_follow_the_spec_and_the_sdk_accumulates_them() -> None:
    translator = ResponseEvents(CODEX_LIKE, "resp_s", 5, "codex")
    events = translator.start()
    for item in STREAM:
        events += translator.feed(item)
    events += translator.end()
    for event in events:
        validate_response_event(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert (
        kinds.count("response.output_item.added") == kinds.count("response.output_item.done") == 4
    )
    final = types.Response.model_validate(events[-1]["response"])
    assert final.output_text == "Hello"
    calls = [o for o in final.output if o.type == "function_call"]
    assert [(c.name, c.arguments) for c in calls] == [("f", '{"a":1}'), ("g", "{}")]
    assert final.usage is not None and final.usage.output_tokens == 4
    # The SDK's own stream state rebuilds the same response from the events.
    from openai.lib.streaming.responses._responses import ResponseStreamState

    state: Any = ResponseStreamState(input_tools=[], text_format=openai_not_given())
    for event in events:
        parsed = state.handle_event(_parse_event(event))
    assert parsed[-1].type == "response.completed"
    assert parsed[-1].response.output_text == "Hello"


def openai_not_given() -> Any:
    from openai import NOT_GIVEN

    return NOT_GIVEN


def _parse_event(event: dict[str, Any]) -> Any:
    from openai._models import construct_type

    return construct_type(type_=types.ResponseStreamEvent, value=event)


def test_a_failure_mid_stream_is_an_error_then_response_failed() -> None:
    translator = ResponseEvents({"model": "m", "input": "x"}, "resp_f", 5, "m")
    translator.start()
    translator.feed(chunk({"content": "partial"}))
    events = translator.error(upstream_unavailable("Busy."))
    for event in events:
        validate_response_event(event)
    assert [e["type"] for e in events] == ["error", "response.failed"]
    assert events[1]["response"]["error"]["message"] == "Busy."
    assert translator.end() == []

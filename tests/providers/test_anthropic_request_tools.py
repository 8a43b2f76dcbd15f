"""OpenAI tools, tool calls and tool results → Anthropic (pure translation)."""

from __future__ import annotations

from typing import Any

import pytest

from cong.protocol.errors import APIError
from cong.providers.anthropic_translate import to_anthropic_request
from tests.providers.test_anthropic_request import MODEL, translate, user

WEATHER_TOOL: dict[str, Any] = {
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


def tool_conversation() -> list[dict[str, Any]]:
    return [
        user("Weather in Paris and Tokyo?"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "25C"}]},
        user("Thanks, which is warmer?"),
    ]


def test_tool_calls_and_parallel_tool_results() -> None:
    out = translate(tool_conversation(), tools=[WEATHER_TOOL])
    assert out["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Tokyo"}},
        ],
    }
    assert out["messages"][2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "25C"},
            {"type": "text", "text": "Thanks, which is warmer?"},
        ],
    }
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
        }
    ]
    assert "tool_choice" not in out


def test_assistant_text_with_tool_calls_keeps_both() -> None:
    messages = tool_conversation()
    messages[1]["content"] = "Checking."
    out = translate(messages, tools=[WEATHER_TOOL])
    assert out["messages"][1]["content"][0] == {"type": "text", "text": "Checking."}


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    out = translate([user()], tools=[{"type": "function", "function": {"name": "now"}}])
    assert out["tools"] == [{"name": "now", "input_schema": {"type": "object", "properties": {}}}]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "tool", "name": "get_weather"},
        ),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any]) -> None:
    assert translate([user()], tools=[WEATHER_TOOL], tool_choice=choice)["tool_choice"] == expected


def test_parallel_tool_calls_false_disables_parallel_use() -> None:
    out = translate([user()], tools=[WEATHER_TOOL], parallel_tool_calls=False)
    assert out["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    out = translate(
        [user()], tools=[WEATHER_TOOL], tool_choice="required", parallel_tool_calls=False
    )
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    out = translate([user()], tools=[WEATHER_TOOL], tool_choice="none", parallel_tool_calls=False)
    assert out["tool_choice"] == {"type": "none"}


def test_tool_choice_without_tools_is_dropped() -> None:
    assert "tool_choice" not in translate([user()], tool_choice="auto")


def test_invalid_tool_arguments_are_400() -> None:
    messages = tool_conversation()
    messages[1]["tool_calls"][0]["function"]["arguments"] = "{not json"
    with pytest.raises(APIError) as error:
        to_anthropic_request({"model": MODEL, "messages": messages})
    assert error.value.status == 400 and error.value.param == "messages[1].tool_calls"


def test_non_function_tools_are_unsupported() -> None:
    with pytest.raises(APIError) as error:
        to_anthropic_request(
            {
                "model": MODEL,
                "messages": [user()],
                "tools": [{"type": "custom", "custom": {"name": "x"}}],
            }
        )
    assert error.value.param == "tools"


def test_thinking_is_left_off_when_a_tool_is_forced() -> None:
    out = translate(
        [user()],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        reasoning_effort="high",
        temperature=0.2,
    )
    assert "thinking" not in out and out["temperature"] == 0.2
    out = translate([user()], tools=[WEATHER_TOOL], tool_choice="auto", reasoning_effort="low")
    assert out["thinking"]["budget_tokens"] == 1024


def test_thinking_is_left_off_inside_a_tool_loop() -> None:
    out = translate(tool_conversation()[:4], tools=[WEATHER_TOOL], reasoning_effort="medium")
    assert "thinking" not in out
    finished = [*tool_conversation(), {"role": "assistant", "content": "Tokyo."}, user("Why?")]
    assert "thinking" in translate(finished, tools=[WEATHER_TOOL], reasoning_effort="medium")

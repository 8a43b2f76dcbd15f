"""OpenAI -> Gemini request translation: legacy function calling and odd or bad inputs."""

from __future__ import annotations

from typing import Any

import pytest

from cong.protocol.errors import APIError
from cong.providers.gemini_translate import clean_schema, to_gemini_request

USER: Any = {"role": "user", "content": "x"}


def test_legacy_functions_and_odd_inputs() -> None:
    text_file = {"type": "file", "file": {"file_data": "JVBE", "filename": "a.txt"}}
    request = to_gemini_request(
        {
            "model": "m",
            "functions": [{"name": "f"}],
            "function_call": {"name": "f"},
            "messages": [
                {"role": "user", "content": [text_file]},
                {
                    "role": "assistant",
                    "content": "",
                    "function_call": {"name": "f", "arguments": "1"},
                },
                {"role": "function", "name": "f", "content": None},
                {"role": "user", "content": ""},
            ],
        }
    )
    contents = request["contents"]
    assert contents[0]["parts"][0]["inlineData"] == {"mimeType": "text/plain", "data": "JVBE"}
    assert contents[1]["parts"] == [{"functionCall": {"name": "f", "args": {"value": 1}}}]
    assert contents[2]["parts"][0]["functionResponse"]["response"] == {"output": ""}
    assert len(contents) == 3
    config = request["toolConfig"]["functionCallingConfig"]
    assert config == {"mode": "ANY", "allowedFunctionNames": ["f"]}


def test_tool_results_given_as_text_parts() -> None:
    request = to_gemini_request(
        {
            "model": "m",
            "messages": [
                USER,
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": "[1]"}]},
            ],
        }
    )
    response = request["contents"][2]["parts"][0]["functionResponse"]["response"]
    assert response == {"output": [1]}


def test_union_types_become_any_of() -> None:
    union = clean_schema({"type": ["string", "integer"]})
    assert union == {"anyOf": [{"type": "string"}, {"type": "integer"}]}


BAD: list[dict[str, Any]] = [
    {"messages": [{"role": "narrator", "content": "x"}]},
    {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]},
    {"messages": [{"role": "assistant", "function_call": {"name": "f", "arguments": "{"}}]},
    {
        "messages": [USER],
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": {"type": "custom", "custom": {"name": "f"}},
    },
]


@pytest.mark.parametrize("body", BAD)
def test_bad_requests_are_400(body: dict[str, Any]) -> None:
    with pytest.raises(APIError) as error:
        to_gemini_request({"model": "m", **body})
    assert error.value.status == 400

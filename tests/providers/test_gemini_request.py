"""Pure OpenAI -> Gemini request translation (messages, media, tools, generation config)."""

from __future__ import annotations

from typing import Any

import pytest

from cong.protocol.errors import APIError
from cong.providers.gemini_translate import clean_schema, to_gemini_request

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "strict": True,
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": ["string", "null"], "enum": ["c", "f"]},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


def test_roles_system_and_turn_merging() -> None:
    request = to_gemini_request(
        {
            "model": "gemini-2.5-flash",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Speak Vietnamese."}]},
                {"role": "user", "content": "Hi"},
                {"role": "user", "content": [{"type": "text", "text": "there"}]},
                {"role": "assistant", "content": "Chào!"},
                {"role": "user", "content": "Again"},
            ],
        }
    )
    assert request["systemInstruction"] == {
        "parts": [{"text": "Be brief."}, {"text": "Speak Vietnamese."}]
    }
    assert request["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}, {"text": "there"}]},
        {"role": "model", "parts": [{"text": "Chào!"}]},
        {"role": "user", "parts": [{"text": "Again"}]},
    ]
    assert "generationConfig" not in request and "tools" not in request


def test_system_only_conversation_becomes_a_user_turn() -> None:
    request = to_gemini_request({"model": "m", "messages": [{"role": "system", "content": "x"}]})
    assert request == {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}


def test_images_audio_and_files() -> None:
    request = to_gemini_request(
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                        },
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://example.com/cat.webp?size=2"},
                        },
                        {"type": "image_url", "image_url": {"url": "https://example.com/photo"}},
                        {
                            "type": "input_audio",
                            "input_audio": {"data": "UklGRg==", "format": "wav"},
                        },
                        {
                            "type": "file",
                            "file": {
                                "file_data": "data:application/pdf;base64,JVBERi0=",
                                "filename": "a.pdf",
                            },
                        },
                    ],
                }
            ],
        }
    )
    parts = request["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    assert parts[2] == {
        "fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp?size=2"}
    }
    assert parts[3]["fileData"]["mimeType"] == "image/jpeg"
    assert parts[4] == {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}
    assert parts[5] == {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}


@pytest.mark.parametrize("url", ["data:image/png,notbase64", "ftp://x/y.png"])
def test_bad_image_urls_are_400(url: str) -> None:
    with pytest.raises(APIError) as error:
        to_gemini_request(
            {
                "model": "m",
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
                ],
            }
        )
    assert error.value.status == 400


def test_tools_tool_calls_and_tool_results() -> None:
    request = to_gemini_request(
        {
            "model": "gemini-2.5-flash",
            "tools": [WEATHER],
            "tool_choice": "required",
            "messages": [
                {"role": "user", "content": "Weather in Hanoi and Hue?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_a__thought__c2ln",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Hanoi"}'},
                        },
                        {
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Hue"}'},
                        },
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": "call_a__thought__c2ln",
                    "content": '{"temp": 31}',
                },
                {"role": "tool", "tool_call_id": "call_b", "content": "rainy"},
            ],
        }
    )
    declaration = request["tools"][0]["functionDeclarations"][0]
    assert declaration == {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "required": ["city"],
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "nullable": True, "enum": ["c", "f"]},
            },
        },
    }
    assert request["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    model_turn, results = request["contents"][1], request["contents"][2]
    assert model_turn == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Hanoi"}},
                "thoughtSignature": "c2ln",
            },
            {"functionCall": {"name": "get_weather", "args": {"city": "Hue"}}},
        ],
    }
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 31}}},
            {"functionResponse": {"name": "get_weather", "response": {"output": "rainy"}}},
        ],
    }


def test_gemini_3_replay_without_signature_gets_the_skip_marker() -> None:
    request = to_gemini_request(
        {
            "model": "gemini-3-pro-preview",
            "messages": [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        },
                        {
                            "id": "c2",
                            "type": "function",
                            "function": {"name": "f", "arguments": ""},
                        },
                    ],
                },
            ],
        }
    )
    parts = request["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == "skip_thought_signature_validator"
    assert "thoughtSignature" not in parts[1] and parts[1]["functionCall"]["args"] == {}


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
        (
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "auto",
                    "tools": [{"type": "function", "function": {"name": "get_weather"}}],
                },
            },
            {"mode": "AUTO"},
        ),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    other = {"type": "function", "function": {"name": "other"}}
    request = to_gemini_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [WEATHER, other],
            "tool_choice": choice,
        }
    )
    assert request["toolConfig"] == {"functionCallingConfig": config}
    names = [d["name"] for d in request["tools"][0]["functionDeclarations"]]
    assert names == (
        ["get_weather"]
        if isinstance(choice, dict) and choice["type"] == "allowed_tools"
        else ["get_weather", "other"]
    )


def test_orphan_tool_message_and_custom_tools_are_400() -> None:
    with pytest.raises(APIError) as orphan:
        to_gemini_request(
            {"model": "m", "messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]}
        )
    assert orphan.value.param == "messages.[0].tool_call_id"
    with pytest.raises(APIError) as custom:
        to_gemini_request(
            {
                "model": "m",
                "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "custom", "custom": {"name": "x"}}],
            }
        )
    assert custom.value.code == "unsupported_by_upstream"


def test_generation_config_and_formats() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "$defs": {
            "Item": {
                "type": "object",
                "properties": {
                    "n": {"type": "integer", "format": "int32"},
                    "email": {"type": "string", "format": "email"},
                },
            }
        },
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
            "kind": {"const": "list"},
            "note": {
                "anyOf": [{"type": "string"}, {"type": "null"}],
                "default": None,
                "title": "Note",
            },
            "either": {"oneOf": [{"type": "string"}, {"type": "number"}]},
            "both": {
                "allOf": [
                    {"properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"properties": {"b": {"type": "string"}}},
                ]
            },
        },
    }
    request = to_gemini_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "temperature": 0.2,
            "top_p": 0.9,
            "max_completion_tokens": 64,
            "stop": "END",
            "n": 2,
            "seed": 7,
            "presence_penalty": 0.5,
            "frequency_penalty": -0.5,
            "reasoning_effort": "low",
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "out", "schema": schema, "strict": True},
            },
        }
    )
    config = request["generationConfig"]
    assert config == {
        "temperature": 0.2,
        "topP": 0.9,
        "candidateCount": 2,
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.5,
        "maxOutputTokens": 64,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "n": {"type": "integer", "format": "int32"},
                            "email": {"type": "string"},
                        },
                    },
                },
                "kind": {"enum": ["list"]},
                "note": {"type": "string", "nullable": True, "title": "Note"},
                "either": {"anyOf": [{"type": "string"}, {"type": "number"}]},
                "both": {
                    "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                    "required": ["a"],
                },
            },
        },
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
    }
    plain = to_gemini_request(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "max_tokens": 5,
            "stop": ["a", "b"],
            "reasoning_effort": "none",
            "response_format": {"type": "json_object"},
        }
    )
    assert plain["generationConfig"] == {
        "maxOutputTokens": 5,
        "stopSequences": ["a", "b"],
        "responseMimeType": "application/json",
        "thinkingConfig": {"thinkingBudget": 0, "includeThoughts": False},
    }


def test_clean_schema_ignores_non_schemas_and_deep_recursion() -> None:
    assert clean_schema(None) == {}
    loop = {
        "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
        "$ref": "#/$defs/N",
    }
    assert clean_schema(loop)["type"] == "object"

"""Pure OpenAI <-> Gemini translation: requests, responses, streams, embeddings, errors."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
import pytest

from cong.protocol.errors import CREDENTIALS_REJECTED, APIError
from cong.providers.gemini_translate import (
    GeminiStream,
    clean_schema,
    from_gemini_embed_response,
    from_gemini_response,
    gemini_error,
    to_gemini_embed_request,
    to_gemini_request,
)
from tests.support.openapi_spec import validate_schema

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city", "strict": True,
    "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                   "properties": {"city": {"type": "string"},
                                  "unit": {"type": ["string", "null"], "enum": ["c", "f"]}},
                   "required": ["city"], "additionalProperties": False}}}


def test_roles_system_and_turn_merging() -> None:
    request = to_gemini_request({"model": "gemini-2.5-flash", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Speak Vietnamese."}]},
        {"role": "user", "content": "Hi"},
        {"role": "user", "content": [{"type": "text", "text": "there"}]},
        {"role": "assistant", "content": "Chào!"},
        {"role": "user", "content": "Again"},
    ]})
    assert request["systemInstruction"] == {"parts": [{"text": "Be brief."},
                                                      {"text": "Speak Vietnamese."}]}
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
    request = to_gemini_request({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp?size=2"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/photo"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=",
                                  "filename": "a.pdf"}},
    ]}]})
    parts = request["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
    assert parts[2] == {"fileData": {"mimeType": "image/webp",
                                     "fileUri": "https://example.com/cat.webp?size=2"}}
    assert parts[3]["fileData"]["mimeType"] == "image/jpeg"
    assert parts[4] == {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}
    assert parts[5] == {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}


@pytest.mark.parametrize("url", ["data:image/png,notbase64", "ftp://x/y.png"])
def test_bad_image_urls_are_400(url: str) -> None:
    with pytest.raises(APIError) as error:
        to_gemini_request({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}]}]})
    assert error.value.status == 400


def test_tools_tool_calls_and_tool_results() -> None:
    request = to_gemini_request({"model": "gemini-2.5-flash", "tools": [WEATHER],
                                 "tool_choice": "required", "messages": [
        {"role": "user", "content": "Weather in Hanoi and Hue?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_a__thought__c2ln", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Hanoi"}'}},
            {"id": "call_b", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Hue"}'}}]},
        {"role": "tool", "tool_call_id": "call_a__thought__c2ln", "content": '{"temp": 31}'},
        {"role": "tool", "tool_call_id": "call_b", "content": "rainy"},
    ]})
    declaration = request["tools"][0]["functionDeclarations"][0]
    assert declaration == {"name": "get_weather", "description": "Weather for a city",
                           "parameters": {"type": "object", "required": ["city"], "properties": {
                               "city": {"type": "string"},
                               "unit": {"type": "string", "nullable": True,
                                        "enum": ["c", "f"]}}}}
    assert request["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    model_turn, results = request["contents"][1], request["contents"][2]
    assert model_turn == {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Hanoi"}},
         "thoughtSignature": "c2ln"},
        {"functionCall": {"name": "get_weather", "args": {"city": "Hue"}}}]}
    assert results == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"temp": 31}}},
        {"functionResponse": {"name": "get_weather", "response": {"output": "rainy"}}}]}


def test_gemini_3_replay_without_signature_gets_the_skip_marker() -> None:
    request = to_gemini_request({"model": "gemini-3-pro-preview", "messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "f", "arguments": ""}}]},
    ]})
    parts = request["contents"][1]["parts"]
    assert parts[0]["thoughtSignature"] == "skip_thought_signature_validator"
    assert "thoughtSignature" not in parts[1] and parts[1]["functionCall"]["args"] == {}


@pytest.mark.parametrize(("choice", "config"), [
    ("auto", {"mode": "AUTO"}),
    ("none", {"mode": "NONE"}),
    ("required", {"mode": "ANY"}),
    ({"type": "function", "function": {"name": "get_weather"}},
     {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
    ({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [
        {"type": "function", "function": {"name": "get_weather"}}]}}, {"mode": "AUTO"}),
])
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    other = {"type": "function", "function": {"name": "other"}}
    request = to_gemini_request({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                 "tools": [WEATHER, other], "tool_choice": choice})
    assert request["toolConfig"] == {"functionCallingConfig": config}
    names = [d["name"] for d in request["tools"][0]["functionDeclarations"]]
    assert names == (["get_weather"] if isinstance(choice, dict) and
                     choice["type"] == "allowed_tools" else ["get_weather", "other"])


def test_orphan_tool_message_and_custom_tools_are_400() -> None:
    with pytest.raises(APIError) as orphan:
        to_gemini_request({"model": "m", "messages": [
            {"role": "tool", "tool_call_id": "nope", "content": "x"}]})
    assert orphan.value.param == "messages.[0].tool_call_id"
    with pytest.raises(APIError) as custom:
        to_gemini_request({"model": "m", "messages": [{"role": "user", "content": "x"}],
                           "tools": [{"type": "custom", "custom": {"name": "x"}}]})
    assert custom.value.code == "unsupported_by_upstream"


def test_generation_config_and_formats() -> None:
    schema = {"type": "object", "additionalProperties": False, "$defs": {
        "Item": {"type": "object", "properties": {"n": {"type": "integer", "format": "int32"},
                                                  "email": {"type": "string",
                                                            "format": "email"}}}},
        "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
                       "kind": {"const": "list"},
                       "either": {"oneOf": [{"type": "string"}, {"type": "number"}]},
                       "both": {"allOf": [{"properties": {"a": {"type": "string"}},
                                           "required": ["a"]},
                                          {"properties": {"b": {"type": "string"}}}]}}}
    request = to_gemini_request({
        "model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0.2,
        "top_p": 0.9, "max_completion_tokens": 64, "stop": "END", "n": 2, "seed": 7,
        "presence_penalty": 0.5, "frequency_penalty": -0.5, "reasoning_effort": "low",
        "response_format": {"type": "json_schema",
                            "json_schema": {"name": "out", "schema": schema, "strict": True}},
    })
    config = request["generationConfig"]
    assert config == {
        "temperature": 0.2, "topP": 0.9, "candidateCount": 2, "seed": 7,
        "presencePenalty": 0.5, "frequencyPenalty": -0.5, "maxOutputTokens": 64,
        "stopSequences": ["END"], "responseMimeType": "application/json",
        "responseSchema": {"type": "object", "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "n": {"type": "integer", "format": "int32"}, "email": {"type": "string"}}}},
            "kind": {"enum": ["list"]},
            "either": {"anyOf": [{"type": "string"}, {"type": "number"}]},
            "both": {"properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                     "required": ["a"]}}},
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
    }
    plain = to_gemini_request({"model": "m", "messages": [{"role": "user", "content": "x"}],
                               "max_tokens": 5, "stop": ["a", "b"], "reasoning_effort": "none",
                               "response_format": {"type": "json_object"}})
    assert plain["generationConfig"] == {
        "maxOutputTokens": 5, "stopSequences": ["a", "b"],
        "responseMimeType": "application/json",
        "thinkingConfig": {"thinkingBudget": 0, "includeThoughts": False}}


def test_clean_schema_ignores_non_schemas_and_deep_recursion() -> None:
    assert clean_schema(None) == {}
    loop = {"$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
            "$ref": "#/$defs/N"}
    assert clean_schema(loop)["type"] == "object"


def _response(**overrides: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "Thinking...", "thought": True}, {"text": "Hello"}, {"text": " there"}]},
        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 4,
                          "thoughtsTokenCount": 20, "cachedContentTokenCount": 6,
                          "totalTokenCount": 34},
        "responseId": "abc", **overrides}


def test_response_text_reasoning_and_usage() -> None:
    answer = from_gemini_response(_response(), "gemini-2.5-flash")
    validate_schema(answer, "CreateChatCompletionResponse")
    message = answer["choices"][0]["message"]
    assert message["content"] == "Hello there" and message["reasoning_content"] == "Thinking..."
    assert answer["id"] == "chatcmpl-abc" and answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"] == {
        "prompt_tokens": 10, "completion_tokens": 24, "total_tokens": 34,
        "prompt_tokens_details": {"cached_tokens": 6},
        "completion_tokens_details": {"reasoning_tokens": 20}}


def test_response_function_calls_carry_the_signature_in_the_id() -> None:
    answer = from_gemini_response({"candidates": [{"content": {"parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Hanoi"}},
         "thoughtSignature": "c2ln"},
        {"functionCall": {"name": "get_time"}}]}, "finishReason": "STOP"}]}, "m")
    validate_schema(answer, "CreateChatCompletionResponse")
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    first, second = choice["message"]["tool_calls"]
    assert first["id"].startswith("call_") and first["id"].endswith("__thought__c2ln")
    assert orjson.loads(first["function"]["arguments"]) == {"city": "Hanoi"}
    assert second["function"] == {"name": "get_time", "arguments": "{}"}
    replay = to_gemini_request({"model": "m", "messages": [
        {"role": "user", "content": "x"}, choice["message"],
        {"role": "tool", "tool_call_id": first["id"], "content": "sunny"}]})
    assert replay["contents"][1]["parts"][0]["thoughtSignature"] == "c2ln"


@pytest.mark.parametrize(("reason", "finish"), [
    ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"),
    ("BLOCKLIST", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"),
    ("SPII", "content_filter"), ("OTHER", "stop"), (None, "stop"),
])
def test_finish_reasons(reason: str | None, finish: str) -> None:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": "x"}]}}
    if reason:
        candidate["finishReason"] = reason
    answer = from_gemini_response({"candidates": [candidate]}, "m")
    assert answer["choices"][0]["finish_reason"] == finish


def test_multiple_candidates_and_empty_safety_candidate() -> None:
    answer = from_gemini_response({"candidates": [
        {"index": 1, "finishReason": "SAFETY"},
        {"index": 0, "content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"}]}, "m")
    validate_schema(answer, "CreateChatCompletionResponse")
    assert [c["index"] for c in answer["choices"]] == [0, 1]
    assert answer["choices"][1]["message"]["content"] is None
    assert answer["choices"][1]["finish_reason"] == "content_filter"


def test_blocked_prompt_is_a_400_naming_the_reason() -> None:
    with pytest.raises(APIError) as error:
        from_gemini_response({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}, "m")
    assert error.value.status == 400 and error.value.code == "content_filter"
    assert "PROHIBITED_CONTENT" in error.value.message
    with pytest.raises(APIError) as empty:
        from_gemini_response({}, "m")
    assert empty.value.status == 502


def test_stream_translation() -> None:
    stream = GeminiStream("gemini-2.5-flash")
    events = [
        {"candidates": [{"content": {"role": "model", "parts": [
            {"text": "Hmm", "thought": True}]}, "index": 0}], "responseId": "r1",
         "usageMetadata": {"promptTokenCount": 5}},
        {"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "index": 0}]},
        {"candidates": [{"content": {"parts": [
            {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "s"}]},
            "index": 0}]},
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": "g", "args": {}}}]},
                         "finishReason": "STOP", "index": 0}],
         "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3,
                           "thoughtsTokenCount": 2}},
    ]
    chunks = [chunk for event in events for chunk in stream.feed(event)] + [stream.finish()]
    for chunk in chunks:
        validate_schema(chunk, "CreateChatCompletionStreamResponse")
        assert chunk["id"] == "chatcmpl-r1"
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    assert deltas[0] == {"role": "assistant", "content": "", "reasoning_content": "Hmm"}
    assert deltas[1] == {"content": "Hi"}
    assert deltas[2]["tool_calls"][0]["index"] == 0
    assert deltas[2]["tool_calls"][0]["id"].endswith("__thought__s")
    assert deltas[3]["tool_calls"][0]["index"] == 1
    assert deltas[3]["tool_calls"][0]["function"] == {"name": "g", "arguments": "{}"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 5
    assert chunks[-1]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 2}


def test_stream_block_and_error_events() -> None:
    with pytest.raises(APIError) as blocked:
        GeminiStream("m").feed({"promptFeedback": {"blockReason": "SAFETY"}})
    assert blocked.value.status == 400 and "SAFETY" in blocked.value.message
    stream = GeminiStream("m", "'gem'")
    stream.feed({"candidates": [{"content": {"parts": [{"text": "a"}]}}]})
    with pytest.raises(APIError) as failed:
        stream.feed({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})
    assert failed.value.status == 503
    assert GeminiStream("m").finish()["usage"]["total_tokens"] == 0


def test_embeddings_both_ways() -> None:
    body = {"model": "text-embedding-004", "input": ["ab", "abcdefghi"], "dimensions": 2}
    request = to_gemini_embed_request(body)
    assert request == {"requests": [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "ab"}]},
         "outputDimensionality": 2},
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": "abcdefghi"}]},
         "outputDimensionality": 2}]}
    answer = from_gemini_embed_response(
        {"embeddings": [{"values": [3.0, 4.0]}, {"values": [0.0, 2.0]}]}, "te", body)
    validate_schema(answer, "CreateEmbeddingResponse")
    assert answer["data"][0]["embedding"] == [0.6, 0.8]  # re-normalized after truncation
    assert answer["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    packed = from_gemini_embed_response({"embeddings": [{"values": [1.5, -2.0]}]}, "te",
                                        {"model": "te", "input": "x",
                                         "encoding_format": "base64"})
    raw = base64.b64decode(packed["data"][0]["embedding"])
    assert struct.unpack("<2f", raw) == (1.5, -2.0)
    with pytest.raises(APIError):
        to_gemini_embed_request({"model": "te", "input": [[1, 2, 3]]})
    with pytest.raises(APIError) as mismatch:
        from_gemini_embed_response({"embeddings": []}, "te", body)
    assert mismatch.value.status == 502


def _google(status: int, state: str, message: str, details: list[Any] | None = None) -> bytes:
    return orjson.dumps({"error": {"code": status, "message": message, "status": state,
                                   "details": details or []}})


def test_error_mapping() -> None:
    key_error = gemini_error(400, _google(400, "INVALID_ARGUMENT", "API key not valid.", [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]),
        {}, "'gem'")
    assert key_error.status == 502 and key_error.code == CREDENTIALS_REJECTED
    denied = gemini_error(403, _google(403, "PERMISSION_DENIED",
                                       "key AIzaSyA1234567890abcdefghijk denied"), {}, "'gem'")
    assert denied.status == 502 and "AIza" not in denied.message
    bad = gemini_error(400, _google(400, "INVALID_ARGUMENT",
                                    "Bad value AIzaSyA1234567890abcdefghijk"), {}, "'gem'")
    assert (bad.status, bad.type, bad.code) == (400, "invalid_request_error", "invalid_argument")
    assert "AIza" not in bad.message
    limited = gemini_error(429, _google(429, "RESOURCE_EXHAUSTED", "quota", [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "6.2s"}]),
        {}, "'gem'")
    assert limited.status == 429 and limited.headers == {"retry-after": "7"}
    assert gemini_error(429, b"", {"retry-after": "3"}, "x").headers == {"retry-after": "3"}
    assert gemini_error(404, _google(404, "NOT_FOUND", "no model"), {}, "x").status == 404
    assert gemini_error(500, _google(500, "INTERNAL", "boom"), {}, "x").status == 502
    assert gemini_error(503, b"<html>", {}, "x").status == 503
    assert gemini_error(504, b"[]", {}, "x").status == 504
    listed = gemini_error(400, b'[{"error": {"code": 400, "message": "m", "status": "X"}}]',
                          {}, "x")
    assert listed.message == "m"

"""Pure Gemini -> OpenAI translation: responses, streams, embeddings and errors."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
import pytest

from cong.protocol.errors import CREDENTIALS_REJECTED, APIError
from cong.providers.gemini_translate import (
    GeminiStream,
    from_gemini_embed_response,
    from_gemini_response,
    gemini_error,
    to_gemini_embed_request,
    to_gemini_request,
)
from tests.support.openapi_spec import validate_schema


def _response(**overrides: Any) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Thinking...", "thought": True},
                        {"text": "Hello"},
                        {"text": " there"},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 4,
            "thoughtsTokenCount": 20,
            "cachedContentTokenCount": 6,
            "totalTokenCount": 34,
        },
        "responseId": "abc",
        **overrides,
    }


def test_response_text_reasoning_and_usage() -> None:
    answer = from_gemini_response(_response(), "gemini-2.5-flash")
    validate_schema(answer, "CreateChatCompletionResponse")
    message = answer["choices"][0]["message"]
    assert message["content"] == "Hello there" and message["reasoning_content"] == "Thinking..."
    assert answer["id"] == "chatcmpl-abc" and answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 24,
        "total_tokens": 34,
        "prompt_tokens_details": {"cached_tokens": 6},
        "completion_tokens_details": {"reasoning_tokens": 20},
    }


def test_response_function_calls_carry_the_signature_in_the_id() -> None:
    answer = from_gemini_response(
        {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {
                                "functionCall": {"name": "get_weather", "args": {"city": "Hanoi"}},
                                "thoughtSignature": "c2ln",
                            },
                            {"functionCall": {"name": "get_time"}},
                        ]
                    },
                    "finishReason": "STOP",
                }
            ]
        },
        "m",
    )
    validate_schema(answer, "CreateChatCompletionResponse")
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    first, second = choice["message"]["tool_calls"]
    assert first["id"].startswith("call_") and first["id"].endswith("__thought__c2ln")
    assert orjson.loads(first["function"]["arguments"]) == {"city": "Hanoi"}
    assert second["function"] == {"name": "get_time", "arguments": "{}"}
    replay = to_gemini_request(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "x"},
                choice["message"],
                {"role": "tool", "tool_call_id": first["id"], "content": "sunny"},
            ],
        }
    )
    assert replay["contents"][1]["parts"][0]["thoughtSignature"] == "c2ln"


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("OTHER", "stop"),
        (None, "stop"),
    ],
)
def test_finish_reasons(reason: str | None, finish: str) -> None:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": "x"}]}}
    if reason:
        candidate["finishReason"] = reason
    answer = from_gemini_response({"candidates": [candidate]}, "m")
    assert answer["choices"][0]["finish_reason"] == finish


def test_multiple_candidates_and_empty_safety_candidate() -> None:
    answer = from_gemini_response(
        {
            "candidates": [
                {"index": 1, "finishReason": "SAFETY"},
                {"index": 0, "content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"},
            ]
        },
        "m",
    )
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
    events: list[dict[str, Any]] = [
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "Hmm", "thought": True}]},
                    "index": 0,
                }
            ],
            "responseId": "r1",
            "usageMetadata": {"promptTokenCount": 5},
        },
        {"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "index": 0}]},
        {
            "candidates": [
                {
                    "content": {
                        "parts": [
                            {
                                "functionCall": {"name": "f", "args": {"a": 1}},
                                "thoughtSignature": "s",
                            }
                        ]
                    },
                    "index": 0,
                }
            ]
        },
        {
            "candidates": [
                {
                    "content": {"parts": [{"functionCall": {"name": "g", "args": {}}}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 5,
                "candidatesTokenCount": 3,
                "thoughtsTokenCount": 2,
            },
        },
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
    assert request == {
        "requests": [
            {
                "model": "models/text-embedding-004",
                "content": {"parts": [{"text": "ab"}]},
                "outputDimensionality": 2,
            },
            {
                "model": "models/text-embedding-004",
                "content": {"parts": [{"text": "abcdefghi"}]},
                "outputDimensionality": 2,
            },
        ]
    }
    answer = from_gemini_embed_response(
        {"embeddings": [{"values": [3.0, 4.0]}, {"values": [0.0, 2.0]}]}, "te", body
    )
    validate_schema(answer, "CreateEmbeddingResponse")
    assert answer["data"][0]["embedding"] == [0.6, 0.8]  # re-normalized after truncation
    assert answer["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    packed = from_gemini_embed_response(
        {"embeddings": [{"values": [1.5, -2.0]}]},
        "te",
        {"model": "te", "input": "x", "encoding_format": "base64"},
    )
    raw = base64.b64decode(packed["data"][0]["embedding"])
    assert struct.unpack("<2f", raw) == (1.5, -2.0)
    with pytest.raises(APIError):
        to_gemini_embed_request({"model": "te", "input": [[1, 2, 3]]})
    with pytest.raises(APIError) as mismatch:
        from_gemini_embed_response({"embeddings": []}, "te", body)
    assert mismatch.value.status == 502


def _google(status: int, state: str, message: str, details: list[Any] | None = None) -> bytes:
    return orjson.dumps(
        {"error": {"code": status, "message": message, "status": state, "details": details or []}}
    )


def test_error_mapping() -> None:
    key_error = gemini_error(
        400,
        _google(
            400,
            "INVALID_ARGUMENT",
            "API key not valid.",
            [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
        ),
        {},
        "'gem'",
    )
    assert key_error.status == 502 and key_error.code == CREDENTIALS_REJECTED
    denied = gemini_error(
        403,
        _google(403, "PERMISSION_DENIED", "key AIzaSyA1234567890abcdefghijk denied"),
        {},
        "'gem'",
    )
    assert denied.status == 502 and "AIza" not in denied.message
    bad = gemini_error(
        400, _google(400, "INVALID_ARGUMENT", "Bad value AIzaSyA1234567890abcdefghijk"), {}, "'gem'"
    )
    assert (bad.status, bad.type, bad.code) == (400, "invalid_request_error", "invalid_argument")
    assert "AIza" not in bad.message
    limited = gemini_error(
        429,
        _google(
            429,
            "RESOURCE_EXHAUSTED",
            "quota",
            [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "6.2s"}],
        ),
        {},
        "'gem'",
    )
    assert limited.status == 429 and limited.headers == {"retry-after": "7"}
    assert gemini_error(429, b"", {"retry-after": "3"}, "x").headers == {"retry-after": "3"}
    assert gemini_error(404, _google(404, "NOT_FOUND", "no model"), {}, "x").status == 404
    assert gemini_error(500, _google(500, "INTERNAL", "boom"), {}, "x").status == 502
    assert gemini_error(503, b"<html>", {}, "x").status == 503
    assert gemini_error(504, b"[]", {}, "x").status == 504
    listed = gemini_error(
        400, b'[{"error": {"code": 400, "message": "m", "status": "X"}}]', {}, "x"
    )
    assert listed.message == "m"

"""Anthropic Messages responses and errors → OpenAI shapes (pure translation)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cong.protocol.errors import APIError
from cong.providers.anthropic_translate import anthropic_error, from_anthropic_response
from tests.support.openapi_spec import validate_schema

USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 2,
    "cache_read_input_tokens": 4,
    "output_tokens": 5,
}


def message(
    content: list[dict[str, Any]],
    stop: str | None = "end_turn",
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": "msg_01X",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage or USAGE,
    }


def test_text_response() -> None:
    out = from_anthropic_response(
        message([{"type": "text", "text": "Hello"}, {"type": "text", "text": " world"}]), "m"
    )
    validate_schema(out, "CreateChatCompletionResponse")
    assert out["id"] == "chatcmpl-msg_01X"
    assert out["object"] == "chat.completion" and out["model"] == "m"
    assert out.get("system_fingerprint") is None and isinstance(out["created"], int)
    choice = out["choices"][0]
    assert choice["message"]["content"] == "Hello world"
    assert choice["message"]["role"] == "assistant"
    assert "tool_calls" not in choice["message"]
    assert choice["finish_reason"] == "stop"


def test_usage_counts_cache_reads_and_writes_as_prompt_tokens() -> None:
    usage = from_anthropic_response(message([]), "m")["usage"]
    assert usage["prompt_tokens"] == 18
    assert usage["prompt_tokens_details"]["cached_tokens"] == 4
    assert usage["prompt_tokens_details"]["cache_write_tokens"] == 2
    assert usage["completion_tokens"] == 5
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0
    assert usage["total_tokens"] == 23


def test_usage_without_cache_fields() -> None:
    usage = from_anthropic_response(
        message([], usage={"input_tokens": 3, "output_tokens": 1}), "m"
    )["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (3, 1, 4)
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0


def test_tool_use_blocks_become_tool_calls() -> None:
    out = from_anthropic_response(
        message(
            [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
            ],
            stop="tool_use",
        ),
        "m",
    )
    validate_schema(out, "CreateChatCompletionResponse")
    msg = out["choices"][0]["message"]
    assert msg["content"] is None
    assert msg["tool_calls"] == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        },
        {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    assert orjson.loads(msg["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert out["choices"][0]["finish_reason"] == "tool_calls"


def test_thinking_becomes_reasoning_content() -> None:
    out = from_anthropic_response(
        message(
            [
                {"type": "thinking", "thinking": "Let me think.", "signature": "abc"},
                {"type": "redacted_thinking", "data": "xyz"},
                {"type": "text", "text": "42"},
            ]
        ),
        "m",
    )
    validate_schema(out, "CreateChatCompletionResponse")
    msg = out["choices"][0]["message"]
    assert msg["reasoning_content"] == "Let me think."
    assert msg["content"] == "42"


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
        ("pause_turn", "stop"),
        ("something_new", "stop"),
    ],
)
def test_stop_reasons(stop: str | None, finish: str) -> None:
    out = from_anthropic_response(message([{"type": "text", "text": "x"}], stop=stop), "m")
    assert out["choices"][0]["finish_reason"] == finish


def test_empty_content_is_an_empty_string() -> None:
    out = from_anthropic_response(message([]), "m")
    assert out["choices"][0]["message"]["content"] == ""
    validate_schema(out, "CreateChatCompletionResponse")


def envelope(kind: str, text: str) -> bytes:
    return orjson.dumps(
        {"type": "error", "error": {"type": kind, "message": text}, "request_id": "req_1"}
    )


def test_400_keeps_the_message_scrubbed() -> None:
    error = anthropic_error(
        400,
        envelope(
            "invalid_request_error", "bad key sk-ant-api03-abcdefghijkl at https://x.internal/v1"
        ),
        {},
        "'claude'",
    )
    assert error.status == 400 and error.type == "invalid_request_error"
    assert "sk-ant" not in error.message and "x.internal" not in error.message
    assert error.message.startswith("bad key [redacted] at [upstream]")


@pytest.mark.parametrize("status", [401, 403])
def test_credential_failures_become_502_without_the_key(status: int) -> None:
    error = anthropic_error(
        status,
        envelope("authentication_error", "invalid x-api-key sk-ant-api03-secret123"),
        {},
        "'claude'",
    )
    assert error.status == 502 and "sk-ant" not in error.message
    assert "rejected the gateway's credentials" in error.message
    assert error.code == "upstream_auth_failed"


def test_rate_limit_passes_retry_after() -> None:
    error = anthropic_error(
        429, envelope("rate_limit_error", "slow down"), {"retry-after": "7"}, "'claude'"
    )
    assert (error.status, error.code, error.headers) == (
        429,
        "rate_limit_exceeded",
        {"retry-after": "7"},
    )


def test_overloaded_529_becomes_503_retryable() -> None:
    error = anthropic_error(
        529, envelope("overloaded_error", "Overloaded"), {"retry-after": "3"}, "'claude'"
    )
    assert (error.status, error.type, error.headers) == (503, "server_error", {"retry-after": "3"})
    assert anthropic_error(529, b"", {}, "x").headers == {"retry-after": "1"}


@pytest.mark.parametrize(
    ("status", "expected", "kind"),
    [
        (404, 404, "not_found_error"),
        (413, 413, "request_too_large"),
        (500, 502, "api_error"),
        (402, 502, "billing_error"),
        (504, 504, "timeout_error"),
        (422, 422, "invalid_request_error"),
    ],
)
def test_other_statuses(status: int, expected: int, kind: str) -> None:
    error = anthropic_error(status, envelope(kind, "boom"), {}, "'claude'")
    assert error.status == expected
    assert isinstance(error, APIError)


def test_non_json_error_body() -> None:
    error = anthropic_error(500, b"<html>bad gateway</html>", {}, "'claude'")
    assert error.status == 502 and "'claude'" in error.message

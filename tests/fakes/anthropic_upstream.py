"""A fake Anthropic Messages API speaking the real wire format (JSON, and SSE with
``event:`` lines). Like the real API it checks ``x-api-key`` (401 authentication_error)
and ``anthropic-version`` (400), and rejects malformed requests with 400
invalid_request_error (unknown fields, non-alternating roles, tool_use without a
tool_result right after, bad thinking budgets, temperature above 1, …).

Behaviour is chosen by the model name:
``claude-tools`` answers a text block and two parallel ``tool_use`` blocks,
``claude-thinking`` a thinking block then text, ``claude-echo`` the request body it got
as the text, ``claude-refusal`` stops with ``refusal``, ``claude-429`` / ``claude-529`` /
``claude-400`` / ``claude-404`` / ``claude-500`` answer Anthropic error envelopes
(429 and 529 with ``retry-after``), ``claude-midstream-error`` streams a little then an
``error`` event, ``claude-slow`` streams one delta every 0.1 s (50 in all) and records how
many it sent; anything else answers "Hello from Claude".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

API_KEY = "sk-ant-test"
USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 2,
    "cache_read_input_tokens": 4,
    "output_tokens": 5,
}
TOP_LEVEL = {
    "model",
    "messages",
    "max_tokens",
    "system",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "metadata",
    "service_tier",
}
BLOCKS = {
    "user": {"text", "image", "document", "tool_result"},
    "assistant": {"text", "tool_use", "thinking", "redacted_thinking"},
}


@dataclass
class Recorder:
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    slow_sent: int = 0
    slow_finished: bool = False


class Invalid(Exception):
    pass


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def check_request(body: dict[str, Any]) -> None:
    """Raise :class:`Invalid` for what the real Messages API rejects."""
    extra = set(body) - TOP_LEVEL
    if extra:
        raise Invalid(f"{sorted(extra)[0]}: Extra inputs are not permitted")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        raise Invalid("max_tokens: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Invalid("messages: at least one message is required")
    previous = None
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in BLOCKS:
            raise Invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if role == previous:
            raise Invalid("messages: roles must alternate between 'user' and 'assistant'")
        previous = role
        _check_content(message, i, messages[i + 1] if i + 1 < len(messages) else None)
    temperature = body.get("temperature")
    if temperature is not None and not 0 <= temperature <= 1:
        raise Invalid("temperature: Input should be less than or equal to 1")
    thinking = body.get("thinking")
    if thinking is not None:
        budget = thinking.get("budget_tokens", 0)
        if thinking.get("type") != "enabled" or budget < 1024:
            raise Invalid("thinking.enabled.budget_tokens: Input should be >= 1024")
        if budget >= body["max_tokens"]:
            raise Invalid("`max_tokens` must be greater than `thinking.budget_tokens`")
        if any(k in body for k in ("temperature", "top_p", "top_k")):
            raise Invalid("temperature/top_p/top_k may not be set when thinking is enabled")
    for tool in body.get("tools") or []:
        if not tool.get("name") or (tool.get("input_schema") or {}).get("type") != "object":
            raise Invalid("tools: each tool needs a name and an object input_schema")
    choice = body.get("tool_choice")
    if choice is not None and choice.get("type") not in ("auto", "any", "tool", "none"):
        raise Invalid("tool_choice.type: unknown type")
    if set(body.get("metadata") or {}) - {"user_id"}:
        raise Invalid("metadata: Extra inputs are not permitted")


def _check_content(message: dict[str, Any], i: int, following: dict[str, Any] | None) -> None:
    content = message.get("content")
    if isinstance(content, str):
        if not content:
            raise Invalid(f"messages.{i}: content must be non-empty")
        return
    if not isinstance(content, list) or not content:
        raise Invalid(f"messages.{i}.content: must be a non-empty string or list")
    seen_other = False
    for block in content:
        kind = block.get("type")
        if kind not in BLOCKS[message["role"]]:
            raise Invalid(f"messages.{i}.content: unexpected block type {kind!r}")
        if kind == "text" and not block.get("text"):
            raise Invalid(f"messages.{i}: text content blocks must be non-empty")
        if kind == "image" and block.get("source", {}).get("type") not in ("base64", "url"):
            raise Invalid(f"messages.{i}: image source must be base64 or url")
        if kind == "tool_result" and seen_other:
            raise Invalid(f"messages.{i}: tool_result blocks must come first")
        seen_other = seen_other or kind != "tool_result"
    uses = [b["id"] for b in content if b.get("type") == "tool_use"]
    if uses:
        results = [
            b.get("tool_use_id")
            for b in (following or {}).get("content") or []
            if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        missing = [u for u in uses if u not in results]
        if missing:
            raise Invalid(
                f"messages.{i + 1}: tool_use ids were found without tool_result "
                f"blocks immediately after: {missing[0]}"
            )


def answer(model: str, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The content blocks and stop reason for a scenario."""
    if model == "claude-tools":
        return [
            {"type": "text", "text": "Let me check both cities."},
            {
                "type": "tool_use",
                "id": "toolu_01A",
                "name": "get_weather",
                "input": {"city": "Paris", "unit": "c"},
            },
            {
                "type": "tool_use",
                "id": "toolu_01B",
                "name": "get_weather",
                "input": {"city": "Tokyo", "unit": "c"},
            },
        ], "tool_use"
    if model == "claude-thinking":
        return [
            {"type": "thinking", "thinking": "2 plus 2 is 4.", "signature": "sig-fake"},
            {"type": "text", "text": "The answer is 4."},
        ], "end_turn"
    if model == "claude-refusal":
        return [{"type": "text", "text": "I can't help with that."}], "refusal"
    if model == "claude-echo":
        return [{"type": "text", "text": orjson.dumps(body).decode()}], "end_turn"
    return [{"type": "text", "text": "Hello from Claude"}], "end_turn"


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _pieces(text: str, n: int = 3) -> list[str]:
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _deltas(block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block["type"]
    if kind == "text":
        return [{"type": "text_delta", "text": p} for p in _pieces(block["text"])]
    if kind == "thinking":
        return [
            *({"type": "thinking_delta", "thinking": p} for p in _pieces(block["thinking"])),
            {"type": "signature_delta", "signature": block["signature"]},
        ]
    raw = orjson.dumps(block["input"]).decode()
    return [
        {"type": "input_json_delta", "partial_json": ""},
        *({"type": "input_json_delta", "partial_json": p} for p in _pieces(raw)),
    ]


def _start_block(block: dict[str, Any]) -> dict[str, Any]:
    if block["type"] == "text":
        return {"type": "text", "text": ""}
    if block["type"] == "thinking":
        return {"type": "thinking", "thinking": ""}
    return {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}


def create_fake_anthropic(recorder: Recorder, api_key: str = API_KEY) -> Starlette:
    async def messages(request: Request) -> Response:
        if request.headers.get("x-api-key") != api_key:
            return _error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version: header is required")
        body = orjson.loads(await request.body())
        recorder.requests.append(body)
        recorder.headers.append(dict(request.headers))
        try:
            check_request(body)
        except Invalid as exc:
            return _error(400, "invalid_request_error", str(exc))
        model = body["model"]
        failure = _failure(model)
        if failure is not None:
            return failure
        blocks, stop = answer(model, body)
        if body.get("stream"):
            return StreamingResponse(_stream(model, blocks, stop), media_type="text/event-stream")
        message = {
            "id": "msg_01Fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": USAGE,
        }
        return Response(orjson.dumps(message), media_type="application/json")

    async def _stream(model: str, blocks: list[dict[str, Any]], stop: str) -> AsyncIterator[bytes]:
        start_usage = {**USAGE, "output_tokens": 1}
        yield _event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_01Fake",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        )
        if model == "claude-slow":
            async for chunk in _slow():
                yield chunk
            return
        for index, block in enumerate(blocks):
            yield _event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": _start_block(block),
                },
            )
            if index == 0:
                yield _event("ping", {"type": "ping"})
            for delta in _deltas(block):
                yield _event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
                if model == "claude-midstream-error":
                    yield _event(
                        "error",
                        {
                            "type": "error",
                            "error": {"type": "overloaded_error", "message": "Overloaded"},
                        },
                    )
                    return
            yield _event("content_block_stop", {"type": "content_block_stop", "index": index})
        yield _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": USAGE["output_tokens"]},
            },
        )
        yield _event("message_stop", {"type": "message_stop"})

    async def _slow() -> AsyncIterator[bytes]:
        yield _event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
        for i in range(50):
            await asyncio.sleep(0.1)
            yield _event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": f"t{i} "},
                },
            )
            recorder.slow_sent += 1
        recorder.slow_finished = True
        yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})
        yield _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 50},
            },
        )
        yield _event("message_stop", {"type": "message_stop"})

    async def models(request: Request) -> Response:
        if request.headers.get("x-api-key") != api_key:
            return _error(401, "authentication_error", "invalid x-api-key")
        return Response(
            orjson.dumps({"data": [], "has_more": False}), media_type="application/json"
        )

    return Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


def _failure(model: str) -> Response | None:
    if model == "claude-429":
        return _error(
            429,
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit",
            {"retry-after": "7"},
        )
    if model == "claude-529":
        return _error(529, "overloaded_error", "Overloaded", {"retry-after": "3"})
    if model == "claude-400":
        return _error(
            400, "invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"
        )
    if model == "claude-404":
        return _error(404, "not_found_error", f"model: {model}")
    if model == "claude-500":
        return _error(500, "api_error", "Internal server error")
    return None

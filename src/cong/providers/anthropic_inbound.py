"""Inbound Anthropic Messages (``POST /v1/messages``) ↔ the gateway's chat request. Pure.

Named by direction: :func:`chat_request_from_anthropic` (a Messages request as a client
sends it → an OpenAI chat request), :func:`anthropic_message_from_chat` (a
``chat.completion`` → a Message) and :func:`anthropic_error_body` (an ``APIError`` → the
Anthropic error envelope and status). Streams are in :mod:`anthropic_inbound_stream`.
This is the mirror of :mod:`anthropic_translate` (the outbound direction). No I/O here.

Lossy or best-effort parts (the chat format has no equivalent):

- ``system`` blocks and text blocks are joined with blank lines; ``cache_control`` marks
  are dropped (prompt caching is the upstream's business).
- ``tool_result`` blocks become ``tool`` messages placed before the rest of the user
  turn, their text joined; an ``is_error`` result is prefixed with ``Error:``; images in
  a tool result are dropped (chat tool messages are text only).
- ``thinking`` in assistant turns becomes ``reasoning_content``; ``signature`` and
  ``redacted_thinking`` are dropped (no chat upstream can verify them).
- ``thinking.budget_tokens`` becomes ``reasoning_effort`` (≤ 2048 low, ≤ 8192 medium,
  above high; ``adaptive`` is medium); ``disabled`` sends nothing.
- ``top_k`` is dropped; only the first four ``stop_sequences`` are kept (OpenAI's limit).
- Server tools (``web_search_…``, ``bash_…``, ``text_editor_…``, …) run only on Anthropic:
  they answer 400 unless the model is served by an Anthropic channel (passed through).
- Answers: ``finish_reason`` ``stop`` is ``end_turn`` (which stop sequence matched is not
  known, so ``stop_sequence`` is null), ``length`` is ``max_tokens``, ``tool_calls`` is
  ``tool_use``, ``content_filter`` is ``refusal``. Tool arguments that are not a JSON
  object arrive as ``{}``. Thinking blocks carry an empty ``signature``.
- Usage: ``input_tokens`` excludes cached prompt tokens, which are reported as
  ``cache_read_input_tokens``; ``cache_creation_input_tokens`` is 0 unless the upstream
  reported cache writes.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from cong.protocol.errors import APIError, invalid_request

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}
MAX_STOPS = 4

Block = dict[str, Any]


def _bad(message: str, param: str | None = None) -> APIError:
    return invalid_request(message, param=param)


# ---------------------------------------------------------------- requests


class MessagesRequest(BaseModel):
    """What the gateway reads of a Messages request passed through natively; the rest is
    Anthropic's to check (it is sent on as it came)."""

    model_config = ConfigDict(extra="allow")

    model: Annotated[str, Field(min_length=1)]
    max_tokens: Annotated[int, Field(ge=1)]
    messages: Annotated[list[Any], Field(min_length=1)]
    stream: bool | None = None

    @property
    def wants_usage_in_stream(self) -> bool:
        return True  # the gateway reads the native events' usage


def chat_request_from_anthropic(
    body: dict[str, Any], *, server_tools: bool = False
) -> dict[str, Any]:
    """A Messages request → an OpenAI chat request for the gateway's one path.
    ``server_tools``: leave Anthropic's server tools out instead of refusing them (to
    estimate a request that goes to Anthropic as it is)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("model: Field required", "model")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise _bad("max_tokens: Field required", "max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _bad("max_tokens: Input should be a positive integer", "max_tokens")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _bad("messages: at least one message is required", "messages")
    messages: list[dict[str, Any]] = []
    system = _system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for i, message in enumerate(raw_messages):
        messages.extend(_turn(message, i))
    out: dict[str, Any] = {"model": model, "messages": messages}
    out["max_completion_tokens"] = max_tokens
    for name in ("temperature", "top_p"):  # Anthropic's range 0-1 on every model
        if (value := body.get(name)) is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise _bad(f"{name}: Input should be a number from 0 to 1", name)
        out[name] = value
    stops = body.get("stop_sequences")
    if isinstance(stops, list):
        kept = [s for s in stops if isinstance(s, str) and s][:MAX_STOPS]
        if kept:
            out["stop"] = kept
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"][:256]
    _tools(body, out, server_tools)
    effort = _effort(body.get("thinking"))
    if effort:
        out["reasoning_effort"] = effort
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _effort(thinking: Any) -> str | None:
    if not isinstance(thinking, dict):
        return None
    kind = thinking.get("type")
    if kind == "adaptive":
        return "medium"
    if kind != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    budget = budget if isinstance(budget, int) else 4096
    return "low" if budget <= 2048 else "medium" if budget <= 8192 else "high"


def _system_text(system: Any) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    if not isinstance(system, list):
        raise _bad("system: Input should be a string or a list of text blocks", "system")
    texts = []
    for block in system:
        if not isinstance(block, dict) or block.get("type") != "text":
            raise _bad("system: only text blocks are allowed", "system")
        texts.append(str(block.get("text") or ""))
    return "\n\n".join(t for t in texts if t)


def _turn(message: Any, i: int) -> list[dict[str, Any]]:
    if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
        raise _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'", "messages")
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": message["role"], "content": content}]
    if not isinstance(content, list):
        raise _bad(f"messages.{i}.content: Input should be a string or a list", "messages")
    if message["role"] == "assistant":
        return [_assistant(content, i)]
    return _user(content, i)


def _user(blocks: list[Any], i: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            results.append(_tool_result(block))
        elif kind == "text":
            parts.append({"type": "text", "text": str(block.get("text") or "")})
        elif kind == "image":
            parts.append(_image(block, i))
        elif kind == "document":
            parts.append(_document(block, i))
        else:
            raise _bad(f"messages.{i}.content: unsupported block type {kind!r}", "messages")
    if not parts:
        return results
    if all(p["type"] == "text" for p in parts):
        text = "\n\n".join(p["text"] for p in parts if p["text"])
        return [*results, {"role": "user", "content": text}]
    return [*results, {"role": "user", "content": parts}]


def _tool_result(block: Block) -> dict[str, Any]:
    content = block.get("content")
    if isinstance(content, list):
        text = "\n\n".join(
            str(b.get("text") or "")
            for b in content
            if isinstance(b, dict) and b.get("type") == "text"
        )
    else:
        text = str(content or "")
    if block.get("is_error"):
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": str(block.get("tool_use_id") or ""), "content": text}


def _image(block: Block, i: int) -> dict[str, Any]:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url":
        url = str(source.get("url") or "")
    else:
        raise _bad(f"messages.{i}.content: image source must be base64 or url", "messages")
    return {"type": "image_url", "image_url": {"url": url}}


def _document(block: Block, i: int) -> dict[str, Any]:
    source = block.get("source") or {}
    if source.get("type") == "text":
        return {"type": "text", "text": str(source.get("data") or "")}
    if source.get("type") != "base64":
        raise _bad(f"messages.{i}.content: documents must be base64 or text", "messages")
    data = f"data:{source.get('media_type', 'application/pdf')};base64,{source.get('data', '')}"
    file: dict[str, Any] = {"file_data": data}
    if block.get("title"):
        file["filename"] = str(block["title"])
    return {"type": "file", "file": file}


def _assistant(blocks: list[Any], i: int) -> dict[str, Any]:
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking") or ""))
        elif kind == "redacted_thinking":
            continue
        elif kind == "tool_use":
            calls.append(
                {
                    "id": str(block.get("id") or ""),
                    "type": "function",
                    "function": {
                        "name": str(block.get("name") or ""),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
        else:
            raise _bad(f"messages.{i}.content: unsupported block type {kind!r}", "messages")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    return message


def server_tools(body: dict[str, Any]) -> list[str]:
    """The names of Anthropic server tools in a request (those that are not ``custom``)."""
    return [
        str(tool.get("name") or tool.get("type"))
        for tool in body.get("tools") or []
        if isinstance(tool, dict) and tool.get("type") not in (None, "custom")
    ]


def _tools(body: dict[str, Any], out: dict[str, Any], skip_server_tools: bool) -> None:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise _bad("tools: Input should be a list", "tools")
    hosted = server_tools(body)
    if hosted and skip_server_tools:
        tools = [t for t in tools if isinstance(t, dict) and t.get("type") in (None, "custom")]
    elif hosted:
        raise invalid_request(
            f"tools: the server tool {hosted[0]!r} runs only on Anthropic's own API; this "
            "model is not served by an Anthropic channel.",
            param="tools",
            code="unsupported_by_upstream",
        )
    if tools:
        out["tools"] = [_tool(tool) for tool in tools]
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": str(choice.get("name"))}}
    else:
        raise _bad("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if choice.get("disable_parallel_tool_use") and tools:
        out["parallel_tool_calls"] = False


def _tool(tool: Any) -> dict[str, Any]:
    if not isinstance(tool, dict) or not tool.get("name"):
        raise _bad("tools: each tool needs a name", "tools")
    function: dict[str, Any] = {"name": str(tool["name"])}
    if tool.get("description"):
        function["description"] = str(tool["description"])
    function["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


# ---------------------------------------------------------------- responses


def stop_reason(finish: Any, called: bool = False) -> str:
    """Anthropic's stop reason; an answer that calls tools stopped for ``tool_use``."""
    reason = STOP_REASONS.get(str(finish), "end_turn")
    return "tool_use" if called and reason == "end_turn" else reason


def anthropic_usage(usage: Any) -> dict[str, int]:
    """OpenAI usage → Anthropic usage (cached prompt tokens reported apart)."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0)
    written = int(details.get("cache_write_tokens") or 0)
    prompt = int(usage.get("prompt_tokens") or 0)
    return {
        "input_tokens": max(prompt - cached - written, 0),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
        "output_tokens": int(usage.get("completion_tokens") or 0),
    }


def tool_input(arguments: Any) -> dict[str, Any]:
    try:
        parsed = orjson.loads(arguments or "{}")
    except (orjson.JSONDecodeError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def message_id(chat_id: Any) -> str:
    raw = str(chat_id or "")
    return raw[len("chatcmpl-") :] if raw.startswith("chatcmpl-msg_") else "msg_" + raw


def anthropic_message_from_chat(response: dict[str, Any], model: str) -> dict[str, Any]:
    """A ``chat.completion`` (first choice) → a Message."""
    choice = (response.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[Block] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(str(p.get("text") or "") for p in text if isinstance(p, dict))
    if text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": tool_input(function.get("arguments")),
            }
        )
    return {
        "id": message_id(response.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason"), bool(message.get("tool_calls"))),
        "stop_sequence": None,
        "usage": anthropic_usage(response.get("usage")),
    }


def anthropic_error_body(error: APIError) -> tuple[int, dict[str, Any]]:
    """The status and ``{"type": "error", "error": {type, message}}`` Anthropic clients
    expect for a gateway error, with the same status."""
    status = error.status
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return status, {"type": "error", "error": {"type": kind, "message": error.message}}

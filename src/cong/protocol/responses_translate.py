"""OpenAI Responses (``POST /v1/responses``) ↔ the gateway's chat request. Pure.

Named by direction: :func:`chat_request_from_responses` (a Responses request, plus the
chat messages of the conversation it continues → a chat request),
:func:`response_from_chat` (a ``chat.completion`` → a Response object). A request's
input items are read in :mod:`responses_input`, streams in :mod:`responses_stream`. No
I/O here.

Lossy or best-effort parts:

- ``reasoning`` input items are dropped (their ``encrypted_content`` is only readable by
  the model that wrote it); ``reasoning.summary`` is ignored, so answers carry reasoning
  as ``reasoning_text`` content and an empty summary.
- Only ``function`` tools (and function tool choices) are served; hosted tools
  (``web_search``, ``file_search``, ``code_interpreter``, ``custom``, …) answer 400.
- Function tool outputs given as content parts keep only their text.
- ``metadata``, ``service_tier``, ``top_logprobs``, ``truncation`` and ``include`` are
  echoed in the Response but not sent upstream; ``background`` and ``conversation`` are
  not offered (400).
- The chat answer's first choice is the output; ``finish_reason`` ``length`` makes the
  Response ``incomplete`` (``max_output_tokens``), ``content_filter`` ``incomplete``
  (``content_filter``).
"""

from __future__ import annotations

import time
from typing import Any

from cong.protocol.errors import invalid_request
from cong.protocol.responses_input import chat_messages_of, unsupported

ECHOED = ("temperature", "top_p", "max_output_tokens", "user", "safety_identifier")
PASSED = ("temperature", "top_p", "user", "safety_identifier", "prompt_cache_key")

Item = dict[str, Any]


# ---------------------------------------------------------------- requests


def chat_request_from_responses(
    body: dict[str, Any], history: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A Responses request → a chat request. ``history``: the chat messages of the
    conversation named by ``previous_response_id`` (its instructions are not carried
    over, as OpenAI does)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_request("Missing required parameter: 'model'.", param="model")
    for name in ("background", "conversation"):
        if body.get(name):
            raise unsupported(f"'{name}' is not supported by this gateway.", name)
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    messages.extend(history or [])
    messages.extend(chat_messages_of(body.get("input")))
    if not messages:
        raise invalid_request("Missing required parameter: 'input'.", param="input")
    out: dict[str, Any] = {"model": model, "messages": messages}
    for name in PASSED:
        if body.get(name) is not None:
            out[name] = body[name]
    limit = body.get("max_output_tokens")
    if limit is not None:
        if type(limit) is not int or limit < 1:
            raise invalid_request(
                f"Invalid 'max_output_tokens': expected a positive integer, got {limit!r:.40}.",
                param="max_output_tokens",
            )
        out["max_completion_tokens"] = limit
    effort = (body.get("reasoning") or {}).get("effort")
    if isinstance(effort, str):
        out["reasoning_effort"] = effort
    _text_options(body.get("text"), out)
    _tools(body, out)
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _text_options(text: Any, out: dict[str, Any]) -> None:
    if not isinstance(text, dict):
        return
    if isinstance(text.get("verbosity"), str):
        out["verbosity"] = text["verbosity"]
    spec = text.get("format")
    if not isinstance(spec, dict) or spec.get("type") in (None, "text"):
        return
    if spec["type"] == "json_object":
        out["response_format"] = {"type": "json_object"}
    elif spec["type"] == "json_schema":
        schema = {k: spec[k] for k in ("name", "schema", "strict", "description") if k in spec}
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    else:
        raise invalid_request("Invalid value for 'text.format.type'.", param="text.format.type")


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools") or []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise unsupported(
                f"Tools of type {kind!r} are not supported; use function tools.", "tools"
            )
    if tools:
        out["tools"] = [
            {
                "type": "function",
                "function": {
                    k: tool[k]
                    for k in ("name", "description", "parameters", "strict")
                    if tool.get(k) is not None
                },
            }
            for tool in tools
        ]
    choice = body.get("tool_choice")
    if isinstance(choice, str):
        out["tool_choice"] = choice
    elif isinstance(choice, dict):
        if choice.get("type") != "function" or not choice.get("name"):
            raise unsupported("Only function tool choices are supported.", "tool_choice")
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    if isinstance(body.get("parallel_tool_calls"), bool) and tools:
        out["parallel_tool_calls"] = body["parallel_tool_calls"]


# ---------------------------------------------------------------- responses


def response_usage(usage: Any) -> dict[str, Any] | None:
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    details = usage.get("prompt_tokens_details") or {}
    out_details = usage.get("completion_tokens_details") or {}
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": int(details.get("cached_tokens") or 0),
            "cache_write_tokens": int(details.get("cache_write_tokens") or 0),
        },
        "output_tokens": completion,
        "output_tokens_details": {
            "reasoning_tokens": int(out_details.get("reasoning_tokens") or 0)
        },
        "total_tokens": prompt + completion,
    }


def base_response(body: dict[str, Any], response_id: str, created_at: int, model: str) -> Item:
    """The Response as it stands before any output (``in_progress``), echoing the request."""
    text: dict[str, Any] = body["text"] if isinstance(body.get("text"), dict) else {}
    reasoning: dict[str, Any] = body["reasoning"] if isinstance(body.get("reasoning"), dict) else {}
    response: Item = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "model": model,
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True) is not False,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": body.get("store", True) is not False,
        "text": {"format": text.get("format") or {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "truncation": "disabled",
        "metadata": body.get("metadata") or {},
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
    }
    response["max_output_tokens"] = body.get("max_output_tokens")
    for name in ECHOED:
        if body.get(name) is not None:
            response[name] = body[name]
    return response


def finish_response(response: Item, output: list[Item], finish: Any, usage: Any) -> Item:
    """Complete a Response with its output, status and usage."""
    response["output"] = output
    summed = response_usage(usage)
    if summed is not None:  # the spec has no null usage: absent until known
        response["usage"] = summed
    if finish == "length":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    elif finish == "content_filter":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "content_filter"}
    else:
        response["status"] = "completed"
        response["completed_at"] = int(time.time())
    return response


def output_items(
    message: dict[str, Any], item_prefix: str, status: str = "completed"
) -> list[Item]:
    """A chat answer's message as Response output items: reasoning, message, calls."""
    items: list[Item] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        items.append(reasoning_item(f"rs_{item_prefix}", reasoning))
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(str(p.get("text") or "") for p in text if isinstance(p, dict))
    if text or not message.get("tool_calls"):
        items.append(message_item(f"msg_{item_prefix}", text or "", status))
    for n, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        items.append(
            call_item(
                f"fc_{item_prefix}{n}",
                str(call.get("id") or ""),
                str(function.get("name") or ""),
                str(function.get("arguments") or ""),
                "completed",
            )
        )
    return items


def reasoning_item(item_id: str, text: str) -> Item:
    content = [{"type": "reasoning_text", "text": text}] if text else []
    return {"id": item_id, "type": "reasoning", "summary": [], "content": content}


def text_part(text: str) -> Item:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, text: str | None, status: str) -> Item:
    content = [] if text is None else [text_part(text)]
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> Item:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def response_from_chat(
    chat: dict[str, Any], body: dict[str, Any], response_id: str, created_at: int, model: str
) -> Item:
    """A ``chat.completion`` → a finished Response object."""
    choice = (chat.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    response = base_response(body, response_id, created_at, model)
    output = output_items(message, response_id.removeprefix("resp_"))
    return finish_response(response, output, choice.get("finish_reason"), chat.get("usage"))


def chat_messages_of_output(output: list[Item]) -> list[dict[str, Any]]:
    """A Response's output items as chat messages (to continue the conversation)."""
    return chat_messages_of(
        [
            {**item, "content": item.get("content") or []}
            if item.get("type") == "message"
            else item
            for item in output
        ]
    )

"""OpenAI Responses (``POST /v1/responses``) ↔ the gateway's chat request. Pure.

Named by direction: :func:`chat_request_from_responses` (a Responses request, plus the
chat messages of the conversation it continues → a chat request),
:func:`response_from_chat` (a ``chat.completion`` → a Response object) and
:func:`input_items_of` (a request's input as the stored, listable items). Streams are in
:mod:`responses_stream`. No I/O here.

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

from cong.protocol.errors import APIError, invalid_request

ECHOED = ("temperature", "top_p", "max_output_tokens", "user", "safety_identifier")
PASSED = ("temperature", "top_p", "user", "safety_identifier", "prompt_cache_key")

Item = dict[str, Any]


def _unsupported(message: str, param: str) -> APIError:
    return invalid_request(message, param=param, code="unsupported_parameter")


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
            raise _unsupported(f"'{name}' is not supported by this gateway.", name)
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
    if isinstance(body.get("max_output_tokens"), int):
        out["max_completion_tokens"] = body["max_output_tokens"]
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
            raise _unsupported(
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
            raise _unsupported("Only function tool choices are supported.", "tool_choice")
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    if isinstance(body.get("parallel_tool_calls"), bool) and tools:
        out["parallel_tool_calls"] = body["parallel_tool_calls"]


def chat_messages_of(input_: Any) -> list[dict[str, Any]]:
    """A request's ``input`` (a string, or a list of items) as chat messages; consecutive
    ``function_call`` items join the assistant message before them."""
    if input_ is None:
        return []
    if isinstance(input_, str):
        return [{"role": "user", "content": input_}]
    if not isinstance(input_, list):
        raise invalid_request("Invalid type for 'input'.", param="input")
    messages: list[dict[str, Any]] = []
    for i, item in enumerate(input_):
        if not isinstance(item, dict):
            raise invalid_request(f"Invalid type for 'input[{i}]'.", param=f"input[{i}]")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            messages.append(_message(item, i))
        elif kind == "function_call":
            call = {
                "id": str(item.get("call_id") or ""),
                "type": "function",
                "function": {
                    "name": str(item.get("name") or ""),
                    "arguments": str(item.get("arguments") or ""),
                },
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": str(item.get("call_id") or ""),
                    "content": _output_text(item.get("output")),
                }
            )
        elif kind == "reasoning":
            continue
        else:
            raise _unsupported(f"Input items of type {kind!r} are not supported.", f"input[{i}]")
    return messages


def _output_text(output: Any) -> str:
    if isinstance(output, list):
        return "".join(str(p.get("text") or "") for p in output if isinstance(p, dict))
    return output if isinstance(output, str) else ""


def _message(item: Item, i: int) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise invalid_request(f"Invalid value for 'input[{i}].role'.", param=f"input[{i}].role")
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise invalid_request(
            f"Invalid type for 'input[{i}].content'.", param=f"input[{i}].content"
        )
    parts = [_part(part, i) for part in content]
    if role != "user" or all(p["type"] == "text" for p in parts):
        return {"role": role, "content": "".join(p.get("text", "") for p in parts)}
    return {"role": role, "content": parts}


def _part(part: Any, i: int) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": str(part.get("text") or "")}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal") or "")}
    if kind == "input_image" and part.get("image_url"):
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail") in ("auto", "low", "high"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file" and part.get("file_data"):
        file = {k: part[k] for k in ("file_data", "filename") if part.get(k)}
        return {"type": "file", "file": file}
    raise _unsupported(
        f"Content parts of type {kind!r} (or files by id) are not supported.", f"input[{i}].content"
    )


def input_items_of(input_: Any, id_prefix: str) -> list[Item]:
    """The request's input as listable items (``GET …/input_items``), each with an id."""
    items = [{"role": "user", "content": input_}] if isinstance(input_, str) else input_ or []
    out: list[Item] = []
    for n, raw in enumerate(items):
        item = dict(raw)
        kind = item.setdefault("type", "message")
        item.setdefault("id", f"{_ITEM_PREFIX.get(kind, 'item')}_{id_prefix}{n}")
        item.setdefault("status", "completed")
        if kind == "message":
            text_type = "output_text" if item.get("role") == "assistant" else "input_text"
            if isinstance(item.get("content"), str):
                item["content"] = [{"type": text_type, "text": item["content"]}]
            if text_type == "output_text":
                item["content"] = [
                    {"annotations": [], "logprobs": [], **part} for part in item["content"]
                ]
        out.append(item)
    return out


_ITEM_PREFIX = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
}


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

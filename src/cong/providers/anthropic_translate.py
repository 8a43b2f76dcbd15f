"""Pure translation between OpenAI Chat Completions and the Anthropic Messages API.

Named by direction: :func:`to_anthropic_request` (OpenAI request → Messages request),
:func:`from_anthropic_response` (Message → ``chat.completion``) and
:func:`anthropic_error` (Anthropic HTTP error → OpenAI envelope). Streams are translated
in :mod:`cong.providers.anthropic_stream`. No I/O here.

Best-effort parts (Anthropic has no equivalent):

- ``response_format`` ``json_object`` / ``json_schema`` becomes an instruction appended to
  the system prompt asking for JSON only (matching the schema, when given). The answer is
  not validated; a client that needs a guarantee must check it.
- System and developer messages anywhere in the conversation are hoisted into the
  top-level ``system`` prompt, in order.
- ``reasoning_effort`` becomes extended thinking with a token budget (low/minimal 1024,
  medium 4096, high 16384); ``max_tokens`` is raised by the budget when it would not
  leave room for the answer, and sampling parameters are dropped as Anthropic requires.
  Thinking is left off when a tool choice is forced and while a tool-use loop is under
  way (Anthropic would demand the signed thinking blocks back, which OpenAI clients
  cannot send); ``reasoning_content`` in requests is ignored for the same reason.
- ``temperature`` is clamped to Anthropic's 0..1; ``top_p`` of 1 (a no-op) is dropped.
- Ignored: ``seed``, ``presence_penalty``, ``frequency_penalty``, ``logit_bias``,
  ``service_tier``, ``store``, ``metadata`` (except that ``user`` → ``metadata.user_id``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from cong.protocol.errors import APIError, invalid_request
from cong.providers.anthropic_errors import anthropic_error

__all__ = ["anthropic_error", "from_anthropic_response", "to_anthropic_request"]

DEFAULT_MAX_TOKENS = 4096
TOOL_CHOICES = {"auto": "auto", "none": "none", "required": "any"}
THINKING_BUDGETS = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384}
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

Block = dict[str, Any]


def unsupported(message: str, param: str | None = None) -> APIError:
    return invalid_request(message, param=param, code="unsupported_by_upstream")


# ---------------------------------------------------------------- requests


def to_anthropic_request(body: dict[str, Any]) -> dict[str, Any]:
    """Translate an OpenAI chat request (model already the upstream name)."""
    if int(body.get("n") or 1) != 1:
        raise unsupported("This model's upstream supports only n=1.", "n")
    if body.get("logprobs"):
        raise unsupported("This model's upstream does not return logprobs.", "logprobs")
    system, messages = _messages(body.get("messages") or [])
    instruction = _format_instruction(body.get("response_format"))
    if instruction:
        system.append(instruction)
    out: dict[str, Any] = {"model": body["model"], "messages": messages}
    if system:
        out["system"] = "\n\n".join(system)
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    out["max_tokens"] = int(max_tokens) if max_tokens else DEFAULT_MAX_TOKENS
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    stops = [s for s in stops if isinstance(s, str) and s.strip()]
    if stops:
        out["stop_sequences"] = stops
    if isinstance(body.get("user"), str) and body["user"]:
        out["metadata"] = {"user_id": body["user"]}
    _tools(body, out)
    budget = THINKING_BUDGETS.get(str(body.get("reasoning_effort") or ""))
    if budget and _thinking_allowed(out):
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if out["max_tokens"] <= budget:
            out["max_tokens"] += budget
    else:
        _sampling(body, out)
    if body.get("stream"):
        out["stream"] = True
    return out


def _thinking_allowed(out: dict[str, Any]) -> bool:
    """Anthropic refuses thinking with a forced tool choice, and in a tool-use loop whose
    assistant turn lacks the signed thinking blocks (OpenAI clients cannot send them back)."""
    if (out.get("tool_choice") or {}).get("type") in ("any", "tool"):
        return False
    assistant = [m for m in out["messages"] if m["role"] == "assistant"]
    return not (assistant and any(b["type"] == "tool_use" for b in assistant[-1]["content"]))


def _sampling(body: dict[str, Any], out: dict[str, Any]) -> None:
    temperature = body.get("temperature")
    if isinstance(temperature, int | float):
        out["temperature"] = min(max(float(temperature), 0.0), 1.0)
    top_p = body.get("top_p")
    if isinstance(top_p, int | float) and top_p < 1:
        out["top_p"] = float(top_p)
    if isinstance(body.get("top_k"), int):
        out["top_k"] = body["top_k"]


def _format_instruction(response_format: Any) -> str | None:
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return (
            "Respond only with one valid JSON object: no prose, no Markdown code fences, "
            "nothing before or after it."
        )
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = orjson.dumps(spec.get("schema") or {}).decode()
        name = f" named {spec['name']!r}" if spec.get("name") else ""
        return (
            f"Respond only with one valid JSON value{name} that matches this JSON Schema "
            f"exactly: no prose, no Markdown code fences, nothing before or after it.\n"
            f"JSON Schema: {schema}"
        )
    return None


def _tools(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools") or []
    if not tools:
        return
    out["tools"] = [_tool(tool) for tool in tools]
    choice = body.get("tool_choice")
    translated: dict[str, Any] | None = None
    if isinstance(choice, str) and choice in TOOL_CHOICES:
        translated = {"type": TOOL_CHOICES[choice]}
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if choice.get("type") != "function" or not name:
            raise unsupported("Only function tool choices are supported.", "tool_choice")
        translated = {"type": "tool", "name": name}
    if body.get("parallel_tool_calls") is False and (translated or {}).get("type") != "none":
        translated = {**(translated or {"type": "auto"}), "disable_parallel_tool_use": True}
    if translated:
        out["tool_choice"] = translated


def _tool(tool: Any) -> Block:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        raise unsupported("Only function tools are supported by this model's upstream.", "tools")
    function = tool.get("function") or {}
    result: Block = {"name": function.get("name", "")}
    if function.get("description"):
        result["description"] = function["description"]
    result["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
    return result


def _messages(messages: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """System texts, then the turns with consecutive same-role turns merged."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            text = _text_of(message.get("content"), f"messages[{i}].content")
            if text:
                system.append(text)
            continue
        if role == "user":
            blocks = _user_blocks(message.get("content"), i)
        elif role == "assistant":
            blocks = _assistant_blocks(message, i)
        elif role == "tool":
            blocks = [_tool_result(message, i)]
            role = "user"
        else:
            raise unsupported(f"Messages with role {role!r} are not supported.", f"messages[{i}]")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    if turns and turns[-1]["role"] == "assistant":
        _trim_prefill(turns[-1]["content"])
        if not turns[-1]["content"]:
            turns.pop()
    return system, turns


def _trim_prefill(blocks: list[Block]) -> None:
    # Anthropic rejects a final (prefill) assistant turn ending in whitespace.
    last = blocks[-1]
    if last.get("type") == "text":
        last["text"] = last["text"].rstrip()
        if not last["text"]:
            blocks.pop()


def _text_of(content: Any, param: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for part in content:
        if part.get("type") == "text":
            texts.append(part.get("text", ""))
        elif part.get("type") == "refusal":
            texts.append(part.get("refusal", ""))
        else:
            raise unsupported(f"Only text content is allowed in {param}.", param)
    return "\n".join(t for t in texts if t)


def _user_blocks(content: Any, i: int) -> list[Block]:
    if content is None or isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[Block] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": part["text"]})
        elif kind == "image_url":
            blocks.append(_image(part.get("image_url") or {}, i))
        elif kind == "file":
            blocks.append(_document(part.get("file") or {}, i))
        else:
            raise unsupported(
                f"Content parts of type {kind!r} are not supported by this model's upstream.",
                f"messages[{i}].content",
            )
    return blocks


def _data_url(url: str, param: str) -> tuple[str, str]:
    header, sep, data = url.partition(",")
    media_type = header[5:].split(";")[0]
    if not sep or ";base64" not in header or not media_type:
        raise invalid_request("Data URLs must be base64-encoded with a media type.", param=param)
    return media_type, data


def _image(image_url: dict[str, Any], i: int) -> Block:
    url = str(image_url.get("url") or "")
    param = f"messages[{i}].content"
    if url.startswith("data:"):
        media_type, data = _data_url(url, param)
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise invalid_request("Image URLs must be http(s) or base64 data URLs.", param=param)


def _document(file: dict[str, Any], i: int) -> Block:
    param = f"messages[{i}].content"
    data = str(file.get("file_data") or "")
    if not data.startswith("data:"):
        raise unsupported("Files must be sent inline as base64 data URLs (file_data).", param)
    media_type, payload = _data_url(data, param)
    block: Block = {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": payload},
    }
    if file.get("filename"):
        block["title"] = str(file["filename"])
    return block


def _assistant_blocks(message: dict[str, Any], i: int) -> list[Block]:
    blocks: list[Block] = []
    text = _text_of(message.get("content"), f"messages[{i}].content")
    if text:
        blocks.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        arguments = function.get("arguments") or "{}"
        try:
            parsed = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise invalid_request(
                "Tool call arguments must be a JSON object for this model's upstream.",
                param=f"messages[{i}].tool_calls",
            )
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id", ""),
                "name": function.get("name", ""),
                "input": parsed,
            }
        )
    return blocks


def _tool_result(message: dict[str, Any], i: int) -> Block:
    text = _text_of(message.get("content"), f"messages[{i}].content")
    block: Block = {"type": "tool_result", "tool_use_id": message.get("tool_call_id", "")}
    if text:
        block["content"] = text
    return block


# ---------------------------------------------------------------- responses


def finish_reason(stop_reason: Any) -> str:
    return FINISH_REASONS.get(str(stop_reason), "stop")


def openai_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic usage → OpenAI usage (cache reads and writes count as prompt tokens)."""
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    cache_write = int(usage.get("cache_creation_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + cache_read + cache_write
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {
            "cached_tokens": cache_read,
            "cache_write_tokens": cache_write,
            "audio_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def from_anthropic_response(resp: dict[str, Any], model: str) -> dict[str, Any]:
    """A Message → ``chat.completion``. ``system_fingerprint`` is left out (clients read it
    as null): the OpenAI spec types it as a string, and Anthropic has no equivalent."""
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in resp.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "thinking":
            thinking.append(block.get("thinking", ""))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id", ""),
                    "type": "function",
                    "function": {
                        "name": block.get("name", ""),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
    text = "".join(texts)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text if text or not calls else None,
        "refusal": None,
        "annotations": [],
    }
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    return {
        "id": "chatcmpl-" + str(resp.get("id", "")),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(resp.get("stop_reason")),
            }
        ],
        "usage": openai_usage(resp.get("usage") or {}),
    }

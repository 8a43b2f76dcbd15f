"""The input side of OpenAI Responses: a request's ``input`` (a string, or a list of
items) as chat messages, and as the stored, listable input items. Pure.

``input_file`` parts become chat ``file`` parts (a stored file by ``file_id``, or inline
``file_data``), read by the gateway like any chat file part; ``file_url`` is refused."""

from __future__ import annotations

from typing import Any

from cong.protocol.errors import APIError, invalid_request

Item = dict[str, Any]


def unsupported(message: str, param: str) -> APIError:
    return invalid_request(message, param=param, code="unsupported_parameter")


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
            raise unsupported(f"Input items of type {kind!r} are not supported.", f"input[{i}]")
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
    if kind == "input_file":
        return _file_part(part, i)
    raise unsupported(f"Content parts of type {kind!r} are not supported.", f"input[{i}].content")


def _file_part(part: dict[str, Any], i: int) -> dict[str, Any]:
    """An ``input_file`` part as the chat ``file`` part the gateway reads (a stored
    file by ``file_id``, or inline ``file_data``)."""
    if isinstance(part.get("file_id"), str) and part["file_id"]:
        return {"type": "file", "file": {"file_id": part["file_id"]}}
    if part.get("file_data"):
        file = {k: part[k] for k in ("file_data", "filename") if part.get(k)}
        return {"type": "file", "file": file}
    if part.get("file_url"):
        raise unsupported(
            "input_file by 'file_url' is not supported: upload the file (POST /v1/files) "
            "and send its file_id, or send its file_data.",
            f"input[{i}].content",
        )
    raise invalid_request(
        "An input_file part needs a 'file_id' or 'file_data'.", param=f"input[{i}].content"
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

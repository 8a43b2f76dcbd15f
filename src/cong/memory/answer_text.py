"""The assistant's text and tool calls in an answer: from a JSON completion, or gathered
from the items of a relayed stream (chunks, lists of chunks, SSE bytes, or event batches
with ``payloads``/``chunks``), so a streamed turn is stored like any other."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from cong.memory.tool_turns import tool_calls_of


def completion_text(response: dict[str, Any]) -> str:
    choices = response.get("choices") or ()
    if not choices:
        return ""
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else ""


def completion_tool_calls(response: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The first choice's tool calls (ids, names, arguments), None when it made none."""
    choices = response.get("choices") or ()
    if not choices or not isinstance(choices[0], dict):
        return None
    return tool_calls_of(choices[0].get("message") or {})


MAX_TOKENS = 100_000_000


def sane_tokens(value: Any) -> int:
    """An upstream's token count when believable, else 0 (the store estimates then)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKENS:
        return value
    return 0


def completion_tokens(response: dict[str, Any]) -> int:
    usage = response.get("usage")
    return sane_tokens(usage.get("completion_tokens")) if isinstance(usage, dict) else 0


def _from_sse(data: bytes) -> Iterator[dict[str, Any]]:
    for event in data.split(b"\n\n"):
        for line in event.split(b"\n"):
            if line.startswith(b"data:"):
                payload = line[5:].strip()
                if payload and payload != b"[DONE]":
                    yield from _from_json(payload)


def _from_json(payload: bytes) -> Iterator[dict[str, Any]]:
    try:
        chunk = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return
    if isinstance(chunk, dict):
        yield chunk


def chunks_of(item: Any) -> Iterator[dict[str, Any]]:
    if isinstance(item, dict):
        yield item
    elif isinstance(item, list):
        yield from (c for c in item if isinstance(c, dict))
    elif isinstance(item, bytes | bytearray):
        yield from _from_sse(bytes(item))
    else:
        for payload in getattr(item, "payloads", None) or ():
            yield from _from_json(payload) if payload.lstrip()[:1] == b"{" else _from_sse(payload)
        yield from getattr(item, "chunks", None) or ()


def is_last(item: Any) -> bool:
    """Whether ``item`` ends the response (SSE bytes ending with ``[DONE]``, or a batch
    marked as the end): nothing is read from the stream after it."""
    if isinstance(item, bytes | bytearray):
        return item.rstrip().endswith(b"data: [DONE]")
    return bool(getattr(item, "end", False))


class StreamText:
    """Collects the first choice's text, tool calls and the usage of a stream, item by
    item (a call's id and name come in its first delta, its arguments in pieces)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.completion_tokens = 0
        self.finished = False

    def _see_calls(self, deltas: Any) -> None:
        for delta in deltas if isinstance(deltas, list) else ():
            if not isinstance(delta, dict) or not isinstance(delta.get("index", 0), int):
                continue
            call = self.calls.setdefault(
                delta.get("index", 0), {"id": "", "type": "function", "name": "", "arguments": ""}
            )
            for key in ("id", "type"):
                if isinstance(delta.get(key), str):
                    call[key] = delta[key]
            function = delta.get("function")
            if isinstance(function, dict):
                if isinstance(function.get("name"), str):
                    call["name"] += function["name"]
                if isinstance(function.get("arguments"), str):
                    call["arguments"] += function["arguments"]

    def see(self, item: Any) -> None:
        for chunk in chunks_of(item):
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                self.completion_tokens = sane_tokens(usage.get("completion_tokens"))
            for choice in chunk.get("choices") or ():
                if choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta") or {}
                text = delta.get("content")
                if isinstance(text, str):
                    self.parts.append(text)
                self._see_calls(delta.get("tool_calls"))
                if choice.get("finish_reason"):
                    self.finished = True

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def tool_calls(self) -> list[dict[str, Any]] | None:
        calls = [
            {
                "id": c["id"],
                "type": c["type"],
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for _, c in sorted(self.calls.items())
            if c["id"]
        ]
        return calls or None

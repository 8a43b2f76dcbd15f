"""The assistant's text in an answer: from a JSON completion, or gathered from the items
of a relayed stream (chunks, lists of chunks, SSE bytes, or event batches with
``payloads``/``chunks``), so a streamed turn is stored like any other."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson


def completion_text(response: dict[str, Any]) -> str:
    choices = response.get("choices") or ()
    if not choices:
        return ""
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else ""


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
    """Collects the first choice's text and the usage of a stream, item by item."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.completion_tokens = 0
        self.finished = False

    def see(self, item: Any) -> None:
        for chunk in chunks_of(item):
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                self.completion_tokens = sane_tokens(usage.get("completion_tokens"))
            for choice in chunk.get("choices") or ():
                if choice.get("index", 0) != 0:
                    continue
                text = (choice.get("delta") or {}).get("content")
                if isinstance(text, str):
                    self.parts.append(text)
                if choice.get("finish_reason"):
                    self.finished = True

    @property
    def text(self) -> str:
        return "".join(self.parts)

"""Anthropic Messages stream events → OpenAI ``chat.completion.chunk`` dicts. Pure.

Event order on the wire: ``message_start``, then per content block ``content_block_start``,
``content_block_delta``…, ``content_block_stop``, then ``message_delta`` (stop reason,
output tokens) and ``message_stop``; ``ping`` may come anywhere, ``error`` ends the stream.

The chunks mirror OpenAI with ``include_usage``: the first carries ``role: assistant``,
content / tool-call / ``reasoning_content`` deltas follow, then a chunk with the
``finish_reason``, then a final chunk with ``choices: []`` and the usage (always sent:
the gateway bills from it and hides it from clients that did not ask).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any

from cong.protocol.errors import upstream_error
from cong.providers.anthropic_errors import stream_error
from cong.providers.anthropic_translate import finish_reason, openai_usage

Chunk = dict[str, Any]


class StreamTranslator:
    """Stateful, synchronous: :meth:`feed` one decoded event, get the chunks it yields;
    :meth:`end` when the upstream stream ends. Raises ``APIError`` for ``error`` events."""

    def __init__(self, model: str, label: str = "upstream") -> None:
        self.model = model
        self.label = label
        self.id = "chatcmpl-anthropic"
        self.created = int(time.time())
        self.usage: dict[str, Any] = {}
        self.tool_calls: dict[int, int] = {}  # content block index -> tool call index
        self.started = False
        self.finish: str | None = None
        self.done = False

    def feed(self, event: dict[str, Any]) -> list[Chunk]:
        kind = event.get("type")
        if self.done:
            return []
        if kind == "error":
            raise stream_error(event, self.label)
        if kind == "message_start":
            return self._message_start(event.get("message") or {})
        if kind == "content_block_start":
            block = event.get("content_block") or {}
            return self._deltas(self._block_start(int(event.get("index", 0)), block))
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            return self._deltas(self._block_delta(int(event.get("index", 0)), delta))
        if kind == "message_delta":
            self._add_usage(event.get("usage"))
            reason = (event.get("delta") or {}).get("stop_reason")
            if reason and self.finish is None:
                self.finish = finish_reason(reason)
                return [*self._role(), self._chunk({}, self.finish)]
            return []
        if kind == "message_stop":
            return self._close()
        return []  # ping, content_block_stop and event types added later

    def end(self) -> list[Chunk]:
        """The upstream closed the stream. Without a stop reason the answer is cut short."""
        if self.done:
            return []
        if self.finish is None:
            raise upstream_error(f"The upstream {self.label} ended the stream early.")
        return self._close()

    def _message_start(self, message: dict[str, Any]) -> list[Chunk]:
        if message.get("id"):
            self.id = "chatcmpl-" + str(message["id"])
        self.model = str(message.get("model") or self.model)
        self._add_usage(message.get("usage"))
        return self._role()

    def _role(self) -> list[Chunk]:
        if self.started:
            return []
        self.started = True
        return [self._chunk({"role": "assistant", "content": ""}, None)]

    def _block_start(self, index: int, block: dict[str, Any]) -> dict[str, Any] | None:
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            return {"content": block["text"]}
        if kind == "thinking" and block.get("thinking"):
            return {"reasoning_content": block["thinking"]}
        if kind == "tool_use":
            position = self.tool_calls[index] = len(self.tool_calls)
            call = {
                "index": position,
                "id": str(block.get("id", "")),
                "type": "function",
                "function": {"name": str(block.get("name", "")), "arguments": ""},
            }
            return {"tool_calls": [call]}
        return None

    def _block_delta(self, index: int, delta: dict[str, Any]) -> dict[str, Any] | None:
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return {"content": delta["text"]}
        if kind == "thinking_delta" and delta.get("thinking"):
            return {"reasoning_content": delta["thinking"]}
        if kind == "input_json_delta" and delta.get("partial_json") and index in self.tool_calls:
            call = {
                "index": self.tool_calls[index],
                "function": {"arguments": delta["partial_json"]},
            }
            return {"tool_calls": [call]}
        return None  # signature_delta, citations_delta, empty deltas

    def _deltas(self, delta: dict[str, Any] | None) -> list[Chunk]:
        if delta is None:
            return []
        return [*self._role(), self._chunk(delta, None)]

    def _add_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self.usage.update({k: v for k, v in usage.items() if v is not None})

    def _close(self) -> list[Chunk]:
        chunks = self._role()
        if self.finish is None:
            self.finish = "stop"
            chunks.append(self._chunk({}, self.finish))
        self.done = True
        final = self._base()
        final["choices"] = []
        final["usage"] = openai_usage(self.usage)
        return [*chunks, final]

    def _base(self) -> Chunk:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None) -> Chunk:
        chunk = self._base()
        chunk["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        chunk["usage"] = None
        return chunk


async def iter_anthropic_stream(
    events: AsyncIterable[dict[str, Any]], model: str = "", label: str = "upstream"
) -> AsyncGenerator[Chunk, None]:
    """Translate decoded Anthropic stream events into OpenAI chunks as they arrive."""
    translator = StreamTranslator(model, label)
    async for event in events:
        for chunk in translator.feed(event):
            yield chunk
    # Reading on to the end after message_stop lets the connection be reused.
    for chunk in translator.end():
        yield chunk

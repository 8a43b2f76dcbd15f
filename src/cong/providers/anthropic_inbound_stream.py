"""OpenAI ``chat.completion.chunk`` dicts → Anthropic Messages stream events. Pure.

The events follow Anthropic's order exactly: ``message_start``, ``ping``, then for each
content block ``content_block_start``, its ``content_block_delta``s and
``content_block_stop``; then ``message_delta`` (stop reason and usage) and
``message_stop``. A failure after the start is one ``error`` event, which ends the stream.

Blocks open in the order their first delta arrives: ``reasoning_content`` (or
``reasoning``) deltas make a ``thinking`` block, ``content`` deltas a ``text`` block, and
each new tool call a ``tool_use`` block whose arguments stream as ``input_json_delta``.
A switch of kind closes the open block; blocks never interleave.

Lossy parts: the input token count in ``message_start`` is the gateway's estimate (the
chat upstream reports usage only at the end); the true counts, cache reads included, come
in ``message_delta``'s usage. Thinking blocks end without a ``signature_delta``. An
upstream that interleaves the argument fragments of parallel tool calls gets each
fragment relayed under its own block's index, even after that block stopped.
"""

from __future__ import annotations

from typing import Any

from cong.protocol.errors import APIError
from cong.protocol.sse import encode_event
from cong.protocol.stream import Events
from cong.providers.anthropic_inbound import (
    anthropic_error_body,
    anthropic_usage,
    message_id,
    stop_reason,
)
from cong.providers.anthropic_native import NATIVE

Event = tuple[str, dict[str, Any]]


class MessageEvents:
    """Stateful, synchronous: :meth:`feed` one chunk, get the events it makes; :meth:`end`
    when the chat stream ends; :meth:`error` for a failure mid-stream."""

    def __init__(self, model: str, input_tokens: int = 0) -> None:
        self.model = model
        self.input_tokens = input_tokens
        self.id = ""
        self.started = False
        self.index = -1  # the open block (-1: none)
        self.kind: str | None = None  # "text", "thinking" or "tool_use"
        self.calls: dict[int, int] = {}  # tool call index -> block index
        self.open_call: int | None = None
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None
        self.done = False

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        if self.done:
            return []
        events = self._start(chunk.get("id"))
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                events += self._text("thinking", reasoning)
            content = delta.get("content")
            if isinstance(content, str) and content:
                events += self._text("text", content)
            for call in delta.get("tool_calls") or ():
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return events

    def end(self) -> list[Event]:
        """The chat stream ended: close the open block, report the stop and the usage."""
        if self.done:
            return []
        events = self._start(None) + self._close()
        self.done = True
        usage = anthropic_usage(self.usage) if self.usage else self._estimated_usage()
        reason = stop_reason(self.finish, bool(self.calls))
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": reason, "stop_sequence": None},
                    "usage": usage,
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def error(self, error: APIError) -> list[Event]:
        """A failure mid-stream: one ``error`` event, and nothing after it."""
        self.done = True
        _status, body = anthropic_error_body(error)
        return [("error", body)]

    def _estimated_usage(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 0,
        }

    def _start(self, chunk_id: Any) -> list[Event]:
        if self.started:
            return []
        self.started = True
        self.id = message_id(chunk_id) if chunk_id else "msg_gateway"
        usage = {**self._estimated_usage(), "output_tokens": 1}
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        return [
            ("message_start", {"type": "message_start", "message": message}),
            ("ping", {"type": "ping"}),
        ]

    def _close(self) -> list[Event]:
        if self.kind is None:
            return []
        self.kind = None
        self.open_call = None
        return [("content_block_stop", {"type": "content_block_stop", "index": self.index})]

    def _open(self, block: dict[str, Any]) -> list[Event]:
        events = self._close()
        self.index += 1
        self.kind = block["type"]
        start = {"type": "content_block_start", "index": self.index, "content_block": block}
        return [*events, ("content_block_start", start)]

    def _delta(self, index: int, delta: dict[str, Any]) -> Event:
        return (
            "content_block_delta",
            {"type": "content_block_delta", "index": index, "delta": delta},
        )

    def _text(self, kind: str, text: str) -> list[Event]:
        events: list[Event] = []
        if self.kind != kind:
            block = (
                {"type": "text", "text": ""}
                if kind == "text"
                else {"type": "thinking", "thinking": "", "signature": ""}
            )
            events = self._open(block)
        if kind == "text":
            return [*events, self._delta(self.index, {"type": "text_delta", "text": text})]
        return [*events, self._delta(self.index, {"type": "thinking_delta", "thinking": text})]

    def _tool_call(self, call: dict[str, Any]) -> list[Event]:
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        events: list[Event] = []
        if position not in self.calls:
            block = {
                "type": "tool_use",
                "id": str(call.get("id") or f"toolu_{self.id}_{position}"),
                "name": str(function.get("name") or ""),
                "input": {},
            }
            events = self._open(block)
            self.calls[position] = self.index
            self.open_call = position
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            delta = {"type": "input_json_delta", "partial_json": arguments}
            events.append(self._delta(self.calls[position], delta))
        return events


class MessageRenderer:
    """Anthropic's stream on the wire (a :class:`~cong.protocol.sse.StreamRenderer`):
    each item's chat chunks become named events; nothing follows ``message_stop``."""

    def __init__(self, model: str, input_tokens: int = 0) -> None:
        self.translator = MessageEvents(model, input_tokens)

    def events(self, events: Events) -> bytes:
        out: list[Event] = []
        for chunk in events.objects():
            out += self.translator.feed(chunk)
        return _encode(out)

    def error(self, error: APIError) -> bytes:
        return _encode(self.translator.error(error))

    def end(self) -> bytes:
        return _encode(self.translator.end())


class NativeMessageRenderer:
    """An Anthropic upstream's own events, relayed as they came (the chat chunks beside
    them were for the gateway's tally); ``message_start`` names the model asked for."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.done = False

    def events(self, events: Events) -> bytes:
        out: list[Event] = []
        for chunk in events.objects():
            for event in chunk.get(NATIVE) or ():
                if event.get("type") == "message_start":
                    event["message"] = {**(event.get("message") or {}), "model": self.model}
                out.append((str(event.get("type")), event))
        return _encode(out)

    def error(self, error: APIError) -> bytes:
        _status, body = anthropic_error_body(error)
        return _encode([("error", body)])

    def end(self) -> bytes:
        return b""


def _encode(events: list[Event]) -> bytes:
    return b"".join([encode_event(name, data) for name, data in events])

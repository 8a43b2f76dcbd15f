"""OpenAI ``chat.completion.chunk`` dicts → typed Responses stream events. Pure.

Every event carries a ``sequence_number`` counting from 0. The order is OpenAI's:
``response.created``, ``response.in_progress``; per output item
``response.output_item.added``, then for a message ``response.content_part.added``,
``response.output_text.delta``… ``response.output_text.done``,
``response.content_part.done``; for a function call
``response.function_call_arguments.delta``… ``…done``; for reasoning
``response.reasoning_text.delta``… ``…done``; then ``response.output_item.done``; at the
end ``response.completed`` (or ``response.incomplete``) with the whole Response. A
failure is an ``error`` event followed by ``response.failed``.

Items open in the order their first delta arrives and never interleave: a switch of
kind closes the open item. Lossy: an upstream that interleaves the argument fragments of
parallel tool calls gets a late fragment relayed under its own item id, after that
item's ``done`` events (the final Response has the whole arguments).
"""

from __future__ import annotations

from typing import Any

from cong.protocol.errors import APIError
from cong.protocol.responses_translate import (
    base_response,
    call_item,
    finish_response,
    message_item,
    reasoning_item,
    text_part,
)

Event = dict[str, Any]


class ResponseEvents:
    """Stateful, synchronous: :meth:`start`, then :meth:`feed` each chunk, then
    :meth:`end` (or :meth:`error`). ``response`` is the finished Response after ``end``."""

    def __init__(self, body: dict[str, Any], response_id: str, created_at: int, model: str) -> None:
        self.response = base_response(body, response_id, created_at, model)
        self.prefix = response_id.removeprefix("resp_")
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.open: dict[str, Any] | None = None  # the item receiving deltas
        self.calls: dict[int, dict[str, Any]] = {}  # tool call index -> item
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None
        self.done = False

    def _event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, **fields, "sequence_number": self.sequence}
        self.sequence += 1
        return event

    def start(self) -> list[Event]:
        snapshot = dict(self.response)
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        if self.done:
            return []
        events: list[Event] = []
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                events += self._text("reasoning", reasoning)
            content = delta.get("content")
            if isinstance(content, str) and content:
                events += self._text("message", content)
            for call in delta.get("tool_calls") or ():
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return events

    def end(self) -> list[Event]:
        if self.done:
            return []
        self.done = True
        events = self._close()
        if not self.output:  # an empty answer is still one (empty) message
            item = message_item(f"msg_{self.prefix}", "", "completed")
            self.output.append(item)
        response = finish_response(self.response, self.output, self.finish, self.usage)
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        return [*events, self._event(kind, response=response)]

    def error(self, error: APIError) -> list[Event]:
        self.done = True
        code = "rate_limit_exceeded" if error.status == 429 else "server_error"
        self.response["status"] = "failed"
        self.response["output"] = self.output
        self.response["error"] = {"code": code, "message": error.message}
        return [
            self._event("error", code=error.code or code, message=error.message, param=error.param),
            self._event("response.failed", response=self.response),
        ]

    # -------------------------------------------------------------- items

    def _add(self, item: dict[str, Any]) -> list[Event]:
        events = self._close()
        self.open = item
        self.output.append(item)
        index = len(self.output) - 1
        events.append(
            self._event("response.output_item.added", output_index=index, item=dict(item))
        )
        if item["type"] == "message":
            part = text_part("")
            events.append(
                self._event(
                    "response.content_part.added",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    part=part,
                )
            )
            item["content"] = [text_part("")]
        return events

    def _text(self, kind: str, text: str) -> list[Event]:
        events: list[Event] = []
        if self.open is None or self.open["type"] != kind:
            n = len(self.output)
            item = (
                message_item(f"msg_{self.prefix}{n}", None, "in_progress")
                if kind == "message"
                else reasoning_item(f"rs_{self.prefix}{n}", "")
            )
            events = self._add(item)
        item = self.output[-1]
        index = len(self.output) - 1
        if kind == "message":
            item["content"][0]["text"] += text
            events.append(
                self._event(
                    "response.output_text.delta",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    delta=text,
                    logprobs=[],
                )
            )
        else:
            if not item["content"]:
                item["content"] = [{"type": "reasoning_text", "text": ""}]
            item["content"][0]["text"] += text
            events.append(
                self._event(
                    "response.reasoning_text.delta",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    delta=text,
                )
            )
        return events

    def _tool_call(self, call: dict[str, Any]) -> list[Event]:
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        events: list[Event] = []
        item = self.calls.get(position)
        if item is None:
            item = call_item(
                f"fc_{self.prefix}{len(self.output)}",
                str(call.get("id") or f"call_{self.prefix}{position}"),
                str(function.get("name") or ""),
                "",
                "in_progress",
            )
            self.calls[position] = item
            events = self._add(item)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            item["arguments"] += arguments
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=self.output.index(item),
                    delta=arguments,
                )
            )
        return events

    def _close(self) -> list[Event]:
        item = self.open
        if item is None:
            return []
        self.open = None
        index = self.output.index(item)
        events: list[Event] = []
        if item["type"] == "message":
            part = item["content"][0]
            events.append(
                self._event(
                    "response.output_text.done",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    text=part["text"],
                    logprobs=[],
                )
            )
            events.append(
                self._event(
                    "response.content_part.done",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    part=dict(part),
                )
            )
        elif item["type"] == "reasoning":
            text = item["content"][0]["text"] if item["content"] else ""
            events.append(
                self._event(
                    "response.reasoning_text.done",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    text=text,
                )
            )
        else:
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
        if "status" in item or item["type"] != "reasoning":
            item["status"] = "completed"
        events.append(self._event("response.output_item.done", output_index=index, item=dict(item)))
        return events

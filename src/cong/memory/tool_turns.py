"""Tool calls in stored conversations: an assistant turn's ``tool_calls`` (ids, names,
arguments) and a tool turn's ``tool_call_id`` are stored as they are, and a conversation
is replayed in the shape OpenAI requires: every assistant message with ``tool_calls`` is
followed by one tool message for each of its ids, and every tool message answers such a
call. Stored turns that would break that (a call whose result never came, a result whose
call was cut away) are left out of the replay, never the client's new messages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def _call(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        return None
    function = value.get("function")
    if not isinstance(function, dict):
        function = {}
    return {
        "id": value["id"],
        "type": str(value.get("type") or "function"),
        "function": {
            "name": str(function.get("name") or ""),
            "arguments": str(function.get("arguments") or ""),
        },
    }


def tool_calls_of(message: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The message's tool calls, each with its id, type, name and arguments (None: none)."""
    calls = message.get("tool_calls")
    if not isinstance(calls, list):
        return None
    kept = [c for c in (_call(v) for v in calls) if c is not None]
    return kept or None


def tool_call_id_of(message: dict[str, Any]) -> str | None:
    value = message.get("tool_call_id")
    return value[:128] if message.get("role") == "tool" and isinstance(value, str) else None


def as_message(
    role: str, content: Any, tool_calls: list[dict[str, Any]] | None, tool_call_id: str | None
) -> dict[str, Any]:
    """A stored turn as an OpenAI chat message."""
    message: dict[str, Any] = {"role": role, "content": content}
    if role == "assistant" and tool_calls:
        message["tool_calls"] = tool_calls
        if content in ("", None):
            message["content"] = None
    if role == "tool":
        message["tool_call_id"] = tool_call_id or ""
    return message


def _results_after(messages: list[dict[str, Any]], start: int) -> set[str]:
    """The ids answered by the run of tool messages from ``start``."""
    answered: set[str] = set()
    for message in messages[start:]:
        if message.get("role") != "tool":
            break
        answered.add(str(message.get("tool_call_id") or ""))
    return answered


def replayable(
    stored: list[dict[str, Any]], following: Iterable[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """``stored`` (earlier turns, as messages) made valid for OpenAI, given the messages
    that will ``follow`` it (the client's new ones, which may answer the last calls)."""
    messages = [*stored, *following]
    out: list[dict[str, Any]] = []
    open_calls: set[str] = set()  # ids of the last kept assistant's calls not yet answered
    for index, message in enumerate(stored):
        role = message.get("role")
        if role == "tool":
            call_id = str(message.get("tool_call_id") or "")
            if call_id in open_calls:
                open_calls.discard(call_id)
                out.append(message)
            continue
        open_calls = set()
        calls = message.get("tool_calls") if role == "assistant" else None
        if calls:
            answered = _results_after(messages, index + 1)
            kept = [c for c in calls if c["id"] in answered]
            message = {**message, "tool_calls": kept} if kept else dict(message)
            if not kept:
                message.pop("tool_calls", None)
                if message.get("content") in (None, ""):
                    continue  # nothing left of this turn
            open_calls = {c["id"] for c in kept}
        out.append(message)
    return out


def transcript_line(message: dict[str, Any]) -> str:
    """A turn's tool calls or tool result as a line of a summary's transcript."""
    if message.get("role") == "tool":
        return f"tool result ({message.get('tool_call_id')}): {message.get('content') or ''}"
    calls = message.get("tool_calls") or []
    named = ", ".join(f"{c['function']['name']}({c['function']['arguments']})" for c in calls)
    return f"assistant called {named}"

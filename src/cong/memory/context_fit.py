"""Fitting a conversation to a model's context: when the stored turns no longer fit,
the oldest are summarised (the summary is stored and replaces them from then on)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cong.billing import estimates
from cong.memory.tool_turns import transcript_line

SUMMARY_TOKENS = 300  # the summary's own budget (its max_tokens)
SUMMARY_PROMPT = (
    "Summarise the conversation below for your own later use: keep names, facts, "
    "decisions, open questions and the user's preferences; write in the conversation's "
    "language; at most 200 words."
)


def message_tokens(message: dict[str, Any]) -> int:
    return estimates.prompt_tokens({"messages": [message]})


def summary_message(summary: str) -> dict[str, Any]:
    return {"role": "system", "content": "Summary of the earlier conversation:\n" + summary}


@dataclass(frozen=True)
class Fit:
    keep_from: int  # index of the first stored message sent as it is
    cut: bool  # True: messages before ``keep_from`` must be summarised


def fit(fixed: int, stored: Sequence[dict[str, Any]], budget: int) -> Fit:
    """How many of the ``stored`` turns (oldest first) fit next to ``fixed`` tokens
    within ``budget``; when some do not, room is left for a summary."""
    sizes = [message_tokens(m) for m in stored]
    if fixed + sum(sizes) <= budget:
        return Fit(0, False)
    room = budget - fixed - SUMMARY_TOKENS
    kept = 0
    start = len(stored)
    while start > 0 and kept + sizes[start - 1] <= room:
        start -= 1
        kept += sizes[start]
    # Never split a user turn from its answer: start at a user message when possible.
    while start < len(stored) and stored[start].get("role") not in ("user", None):
        start += 1
    return Fit(start, True)


def transcript(summary: str | None, messages: Sequence[dict[str, Any]]) -> str:
    lines = []
    if summary:
        lines.append("(earlier summary) " + summary)
    for message in messages:
        if message.get("role") == "tool" or message.get("tool_calls"):
            lines.append(transcript_line(message))
            if not message.get("content") or message.get("role") == "tool":
                continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
        lines.append(f"{message.get('role')}: {content or ''}")
    return "\n".join(lines)


Summariser = Callable[[str], Awaitable[str | None]]


def summary_request(model: str, text: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": SUMMARY_PROMPT},
            {"role": "user", "content": text},
        ],
        "max_tokens": SUMMARY_TOKENS,
        "temperature": 0,
    }

"""Token estimates for admission (the worst case to reserve) and for streams that end
without a usage report.

The estimator is deliberately pessimistic for prompts: one token per 3 UTF-8 bytes of
text plus 4 tokens per message (BPE tokenizers average 3.5-4.5 bytes per token on
English and code; the over-estimate is released at settlement), and 765 tokens per image
(the most a high-detail 512x512 tile image costs at OpenAI). Output: ``max_tokens`` /
``max_completion_tokens`` times ``n``, or the configured default output budget.
"""

from __future__ import annotations

from typing import Any

BYTES_PER_TOKEN = 3
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 765


def text_tokens(text: str) -> int:
    return bytes_tokens(len(text.encode()))


def bytes_tokens(size: int) -> int:
    """The estimate for ``size`` bytes of UTF-8 text."""
    return -(-size // BYTES_PER_TOKEN)


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return text_tokens(content)
    total = 0
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "image_url":
                total += TOKENS_PER_IMAGE
            else:
                total += text_tokens(str(part.get("text") or part.get("refusal") or ""))
    return total


def prompt_tokens(data: dict[str, Any]) -> int:
    """Estimate for a chat request (messages, tools) or a legacy completion (prompt)."""
    total = 0
    for message in data.get("messages") or []:
        if isinstance(message, dict):
            total += TOKENS_PER_MESSAGE + _content_tokens(message.get("content"))
            if message.get("tool_calls"):
                total += text_tokens(str(message["tool_calls"]))
    if data.get("tools"):
        total += text_tokens(str(data["tools"]))
    prompt = data.get("prompt")
    if isinstance(prompt, str):
        total += text_tokens(prompt)
    elif isinstance(prompt, list):
        total += sum(
            text_tokens(p) if isinstance(p, str) else len(p) if isinstance(p, list) else 1
            for p in prompt
        )
    return total


def embedding_tokens(data: dict[str, Any]) -> int:
    value = data.get("input")
    if isinstance(value, str):
        return text_tokens(value)
    if isinstance(value, list):
        return sum(
            text_tokens(v) if isinstance(v, str) else len(v) if isinstance(v, list) else 1
            for v in value
        )
    return 0


def output_budget(data: dict[str, Any], default: int) -> int:
    """The most output a request may produce: its limit (or ``default``) per choice, for
    every choice (``n``, or ``best_of`` for legacy completions, which bills all the
    candidates it generates) of every prompt."""
    requested = data.get("max_completion_tokens") or data.get("max_tokens") or default
    choices = max(_count(data.get("n")), _count(data.get("best_of")))
    return _count(requested) * choices * prompt_count(data.get("prompt"))


def has_output_limit(data: dict[str, Any]) -> bool:
    """Did the request bound its output (so the charge never exceeds the hold)?"""
    return bool(data.get("max_completion_tokens") or data.get("max_tokens"))


def prompt_count(prompt: Any) -> int:
    """Legacy completions take one prompt (a string or a list of token ids) or a list of
    them; each gets its own completions."""
    if not isinstance(prompt, list) or not prompt:
        return 1
    if all(isinstance(p, int) for p in prompt):
        return 1
    return len(prompt)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1

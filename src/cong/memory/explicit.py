"""Explicit memory writes in a user's message: "remember …", "hãy nhớ …". Recognised by
rule (no model), so the same sentence always stores the same memory. The trigger is a
whole word ("remembering …" is not one), "hãy nhớ lại …" asks to recall, not to keep,
and a question or a fact without a letter or digit ("Remember?", "remember:") is not
stored."""

from __future__ import annotations

import re

# At the start of the message (after greetings/punctuation), the trigger, then the fact.
_TRIGGER = re.compile(
    r"^\s*(?:please[\s,]+|pls[\s,]+|xin[\s,]+|bạn\s+)?"
    r"(?:remember(?:\s+that)?|note\s+that|don'?t\s+forget(?:\s+that)?|"
    r"hãy\s+nhớ(?!\s+lại\b)(?:\s+(?:rằng|là))?|"
    r"nhớ\s+(?:giúp|hộ)\s+(?:tôi|mình)(?:\s+(?:rằng|là))?|"
    r"ghi\s+nhớ(?:\s+(?:rằng|là))?|nhớ\s+rằng)\b"
    r"\s*[:,\-–—]?\s*(?P<fact>.+)$",
    re.IGNORECASE | re.DOTALL,
)
MAX_LENGTH = 2000


def explicit_fact(text: str) -> str | None:
    """The fact to remember when ``text`` asks for it, else None."""
    found = _TRIGGER.match(text)
    if found is None:
        return None
    fact = found.group("fact").strip().strip("\"'“”").strip()
    if fact.endswith("?") or not any(ch.isalnum() for ch in fact):
        return None
    return fact[:MAX_LENGTH]

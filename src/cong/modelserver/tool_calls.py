"""Tool calls written by the model as text → OpenAI ``tool_calls``.

Recognised forms: ``<tool_call>{"name": …, "arguments": …}</tool_call>`` blocks (one
or more, the closing tag optional at the very end), and a reply that is only a JSON
object (or a list of them, optionally in a ```json fence) with ``name`` and
``arguments`` (or ``parameters``). Only names of offered tools count as calls.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

import orjson

from cong.modelserver.text_stream import partial_suffix_length

OPEN_TAG = "<tool_call>"
_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class ParsedCall:
    name: str
    arguments: str


def new_call_id() -> str:
    return "call_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def parse_tool_calls(text: str, names: frozenset[str]) -> tuple[str, list[ParsedCall]]:
    """Split a reply into its plain content and the tool calls it makes."""
    start = text.find(OPEN_TAG)
    if start >= 0:
        calls: list[ParsedCall] = []
        for block in _BLOCK.findall(text[start:]):
            calls.extend(_calls_in(block, names))
        if calls:
            return text[:start].strip(), calls
        return text, []
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    calls = _calls_in(fenced.group(1) if fenced else stripped, names)
    return ("", calls) if calls else (text, [])


def _calls_in(blob: str, names: frozenset[str]) -> list[ParsedCall]:
    try:
        value: Any = orjson.loads(blob)
    except orjson.JSONDecodeError:
        return []
    items = value if isinstance(value, list) else [value]
    calls: list[ParsedCall] = []
    for item in items:
        call = _call(item, names)
        if call is None:
            return []
        calls.append(call)
    return calls


def _call(item: Any, names: frozenset[str]) -> ParsedCall | None:
    if not isinstance(item, dict):
        return None
    function = item.get("function")
    if isinstance(function, dict):  # {"type": "function", "function": {...}}
        item = function
    name = item.get("name")
    if not isinstance(name, str) or name not in names:
        return None
    arguments = item.get("arguments", item.get("parameters", {}))
    if isinstance(arguments, str):
        return ParsedCall(name, arguments)
    return ParsedCall(name, orjson.dumps(arguments if arguments is not None else {}).decode())


class ToolCallSniffer:
    """Streams content through while holding back anything that may be a tool call.

    A reply that starts like a JSON object or a ``<tool_call>`` block is held whole;
    otherwise text flows, except a possible ``<tool_call>`` opening, and everything
    from a complete one on. ``finish`` returns the held text or the parsed calls.
    """

    def __init__(self, names: frozenset[str], *, forced: bool = False) -> None:
        self._names = names
        self._held = ""
        self._capturing = forced
        self._decided = forced

    def feed(self, text: str) -> str:
        self._held += text
        if self._capturing:
            return ""
        if not self._decided:
            lead = self._held.lstrip()
            if lead.startswith("{"):
                self._capturing = True
                return ""
            if not lead or OPEN_TAG.startswith(lead):
                return ""
            self._decided = True
        return self._release()

    def _release(self) -> str:
        held = self._held
        start = held.find(OPEN_TAG)
        if start >= 0:
            self._capturing = True
            self._held = held[start:]
            return held[:start]
        keep = partial_suffix_length(held, [OPEN_TAG])
        self._held = held[len(held) - keep :]
        return held[: len(held) - keep]

    def finish(self) -> tuple[str, list[ParsedCall]]:
        """The content still to send, and the calls (empty when there were none)."""
        held, self._held = self._held, ""
        if not held:
            return "", []
        content, calls = parse_tool_calls(held, self._names)
        return (content, calls) if calls else (held, [])

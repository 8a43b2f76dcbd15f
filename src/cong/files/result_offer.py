"""When a chat request is offered result files, and how.

The rule (docs/files.md, "Result files"): a chat request (the web chat's or an API
client's) when it has files in it or its latest user message asks for files (words
such as "file", "zip", "download", "tệp", "tập tin", "tải về", or a file name such as
``report.csv``). Never when the request declares tools of its own (the client then
handles files its own way), forces a tool choice, asks for ``n`` > 1 answers or for JSON output.

A model that can call tools (its catalogue capabilities) is given the ``create_file``
function tool; any other model is asked, in a system message, to write each file as a
fenced code block whose info string names it (``title="report.md"``), and those blocks
are collected from its answer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from cong.files.chat_parts import latest_user_text

CREATE_FILE = "create_file"

TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": CREATE_FILE,
        "description": (
            "Create a file that the user can download: code, a document, data (CSV, JSON, "
            "Markdown…), a report. Call it once per file, with the file's complete text. "
            "The user gets download links (several files also come as one ZIP); do not "
            "repeat the content in your answer."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "name": {
                    "type": "string",
                    "description": "file name with its extension, e.g. report.md",
                },
                "content": {"type": "string", "description": "the file's complete text"},
            },
            "required": ["name", "content"],
            "additionalProperties": False,
        },
    },
}

BLOCKS_HINT = (
    "When the user wants files as a result (code, documents, data), write each file as "
    'a fenced code block whose opening line names it with title="…", for example:\n'
    '```python title="hello.py"\nprint("hello")\n```\n'
    "Each such block becomes a file the user can download (several also come as one "
    "ZIP). Use a plain file name with its extension, no folders."
)

ASKS_FOR_FILES = re.compile(
    r"\b(files?|zip|download\w*|attach\w*|tệp|tập tin|tải về|tải xuống|đính kèm)\b"
    r"|\b[\w-]+\.(py|js|ts|tsx|jsx|csv|tsv|md|txt|json|ya?ml|html?|css|sql|sh|xml|toml"
    r"|ini|java|go|rs|c|cpp|h|rb|php|kt|swift|tex|ipynb|env|dockerfile)\b",
    re.IGNORECASE,
)

Mode = Literal["tool", "blocks"]


@dataclass(frozen=True, slots=True)
class Offer:
    mode: Mode
    body: dict[str, Any]  # the request as the upstream gets it (tool or hint added)


def asks_for_files(text: str) -> bool:
    return ASKS_FOR_FILES.search(text) is not None


def wanted(body: dict[str, Any], *, has_files: bool) -> bool:
    """Whether this request is offered result files at all (before the model's
    capabilities are looked at)."""
    if (
        body.get("tools")
        or body.get("functions")
        or body.get("tool_choice")
        not in (
            None,
            "auto",
        )
    ):
        return False
    if body.get("n") not in (None, 1):
        return False
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (None, "text"):
        return False
    if not isinstance(body.get("messages"), list):
        return False
    # Not on every web chat message: a small model would be handed a tool it does not need.
    return has_files or asks_for_files(latest_user_text(body["messages"]))


def offer(body: dict[str, Any], capabilities: tuple[str, ...]) -> Offer | None:
    """The request with the tool (a tool-capable chat model) or the hint (another chat
    model) added."""
    if "chat" not in capabilities:
        return None
    if "tools" in capabilities:
        return Offer("tool", {**body, "tools": [TOOL]})
    messages = list(body["messages"])
    at = 0
    while at < len(messages) and (
        isinstance(messages[at], dict) and messages[at].get("role") in ("system", "developer")
    ):
        at += 1
    messages.insert(at, {"role": "system", "content": BLOCKS_HINT})
    return Offer("blocks", {**body, "messages": messages})

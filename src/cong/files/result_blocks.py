"""Result files written as fenced code blocks (models without tools): a block whose
opening line's info string has ``title="name"`` (or ``title='name'``) is a file, its
lines up to the closing fence are the content. Other code blocks are left alone."""

from __future__ import annotations

import re

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})([^`\n]*)$")
TITLE = re.compile(r"""\btitle=(?:"([^"\n]+)"|'([^'\n]+)')""")


def named_blocks(text: str) -> list[tuple[str, str]]:
    """(name, content) of each fenced block with a title, in order."""
    found: list[tuple[str, str]] = []
    lines = text.split("\n")
    at = 0
    while at < len(lines):
        opening = FENCE.match(lines[at])
        if opening is None:
            at += 1
            continue
        fence = opening.group(1)
        title = TITLE.search(opening.group(2))
        end = at + 1
        while end < len(lines):
            stripped = lines[end].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            end += 1
        if title is not None and end < len(lines):
            name = (title.group(1) or title.group(2)).strip()
            content = "\n".join(lines[at + 1 : end])
            found.append((name, content + "\n" if content else ""))
        at = end + 1
    return found

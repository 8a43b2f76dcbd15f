"""A long file's extracted text cut into chunks that keep its structure: each chunk
carries the headers it sits under (``=== path ===`` of an archive entry, ``--- page N
---``, ``--- slide N ---``, ``--- sheet: name ---``, ``--- table N ---``), a sheet's or a
CSV's first row (its column names) when the chunk does not start with it, and for text
without such headers the lines it spans (``--- lines a–b ---``). Pure functions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from cong.billing.estimates import text_tokens

OUTER = re.compile(r"^=== (.+) ===$")
INNER = re.compile(r"^--- (page \d+|slide \d+|sheet: .+|table \d+) ---$")
TABLE_FILES = (".csv", ".tsv")


@dataclass(frozen=True, slots=True)
class Chunk:
    heading: str  # the header lines it sits under ("" for none)
    text: str

    @property
    def full(self) -> str:
        return f"{self.heading}\n{self.text}" if self.heading else self.text


@dataclass(slots=True)
class _Section:
    outer: str | None
    inner: str | None
    table: bool  # its first line names the columns
    start: int  # line number (1-based) of its first line, for headerless text
    lines: list[str] = field(default_factory=list)


def _sections(text: str, name: str) -> Iterator[_Section]:
    outer: str | None = None
    csv_like = name.lower().endswith(TABLE_FILES)
    section = _Section(None, None, csv_like, 1)
    for number, line in enumerate(text.splitlines(), 1):
        if OUTER.match(line):
            yield section
            outer = line
            path = OUTER.match(line).group(1).lower()  # type: ignore[union-attr]
            section = _Section(outer, None, path.endswith(TABLE_FILES), number + 1)
        elif INNER.match(line):
            yield section
            section = _Section(outer, line, line.startswith("--- sheet: "), number + 1)
        else:
            section.lines.append(line)
    yield section


def _pieces(line: str, limit: int) -> Iterator[str]:
    """A line longer than ``limit`` tokens, cut at spaces where it can be."""
    size = max(16, limit * 3)  # the estimate's bytes per token; characters are close
    while len(line) > size:
        cut = line.rfind(" ", size // 2, size)
        cut = cut if cut > 0 else size
        yield line[:cut]
        line = line[cut:].lstrip()
    if line:
        yield line


def _heading(section: _Section, first: int, last: int, columns: str | None) -> str:
    lines = [h for h in (section.outer, section.inner) if h]
    if section.inner is None:
        lines.append(f"--- lines {first}–{last} ---")
    if columns is not None:
        lines.append(columns)
    return "\n".join(lines)


def chunk_text(text: str, name: str, max_tokens: int) -> list[Chunk]:
    """``text`` (as the extraction wrote it for the file ``name``) in chunks of at most
    about ``max_tokens`` estimated tokens each, in document order."""
    chunks: list[Chunk] = []
    for section in _sections(text, name):
        rows = [(section.start + i, line) for i, line in enumerate(section.lines)]
        while rows and not rows[-1][1].strip():
            rows.pop()
        while rows and not rows[0][1].strip():
            rows.pop(0)
        if not rows:
            continue
        columns = rows[0][1] if section.table else None
        budget = max_tokens - (text_tokens(columns) if columns else 0)
        current: list[tuple[int, str]] = []
        spent = 0
        for number, line in rows:
            for piece in _pieces(line, max(8, budget)):
                cost = text_tokens(piece) + 1
                if current and spent + cost > budget:
                    chunks.append(_chunk(section, current, columns))
                    current, spent = [], 0
                current.append((number, piece))
                spent += cost
        if current:
            chunks.append(_chunk(section, current, columns))
    return chunks


def _chunk(section: _Section, lines: list[tuple[int, str]], columns: str | None) -> Chunk:
    first, last = lines[0][0], lines[-1][0]
    starts_the_table = lines[0][0] == section.start or lines[0][1] == columns
    heading = _heading(section, first, last, None if starts_the_table else columns)
    return Chunk(heading, "\n".join(text for _, text in lines))


def _span(numbers: list[int]) -> str:
    """``1–3, 7`` for [1, 2, 3, 7]."""
    spans: list[str] = []
    start = previous = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == previous + 1:
            previous = n
            continue
        spans.append(f"{start}–{previous}" if previous > start else str(start))
        if n is not None:
            start = previous = n
    return ", ".join(spans)


def _inner_summary(inners: list[str]) -> str:
    numbered: dict[str, list[int]] = {}
    named: list[str] = []
    for inner in inners:
        body = INNER.match(inner).group(1)  # type: ignore[union-attr]
        if body.startswith("sheet: "):
            if body[7:] not in named:
                named.append(body[7:])
            continue
        kind, _, number = body.partition(" ")
        numbers = numbered.setdefault(kind, [])
        if int(number) not in numbers:
            numbers.append(int(number))
    parts = [f"{kind}s {_span(sorted(numbers))}" for kind, numbers in numbered.items()]
    if named:
        parts.append("sheets " + ", ".join(repr(n) for n in named))
    return "; ".join(parts)


def structure(chunks: list[Chunk], limit: int = 2000) -> str:
    """The file's outline from its chunks' headings: pages, slides, sheets, tables,
    archive paths (each with its own pages or sheets), cut to about ``limit``
    characters."""
    order: list[str | None] = []
    inners: dict[str | None, list[str]] = {}
    for chunk in chunks:
        outer = inner = None
        for line in chunk.heading.splitlines():
            if OUTER.match(line):
                outer = OUTER.match(line).group(1)  # type: ignore[union-attr]
            elif INNER.match(line):
                inner = line
        if outer not in inners:
            order.append(outer)
            inners[outer] = []
        if inner is not None:
            inners[outer].append(inner)
    entries = []
    for outer in order:
        summary = _inner_summary(inners[outer])
        if outer is None:
            if summary:
                entries.append(summary)
        else:
            entries.append(f"{outer} ({summary})" if summary else outer)
    text = ""
    for n, entry in enumerate(entries):
        if len(text) + len(entry) > limit:
            return text + f"; … and {len(entries) - n} more"
        text = f"{text}; {entry}" if text else entry
    return text

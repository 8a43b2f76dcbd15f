"""One reader per document format, bytes → text that keeps the structure a model needs
(pages, slides, sheets, tables). Pure functions, run in the extraction worker."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser

from cong.files.decoding import decode_text


def read_pdf(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise ValueError("the PDF is encrypted")
    pages = []
    for number, page in enumerate(reader.pages, 1):
        pages.append(f"--- page {number} ---\n{(page.extract_text() or '').strip()}")
    return "\n\n".join(pages)


def read_docx(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs if p.text.strip()]
    for number, table in enumerate(document.tables, 1):
        rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
        parts.append(f"--- table {number} ---\n" + "\n".join(rows))
    return "\n".join(parts)


def read_pptx(data: bytes) -> str:
    from pptx import Presentation

    slides = []
    for number, slide in enumerate(Presentation(io.BytesIO(data)).slides, 1):
        texts = [
            shape.text_frame.text.strip()
            for shape in slide.shapes
            if shape.has_text_frame and shape.text_frame.text.strip()
        ]
        slides.append(f"--- slide {number} ---\n" + "\n".join(texts))
    return "\n\n".join(slides)


def read_xlsx(data: bytes, max_chars: int) -> str:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    parts: list[str] = []
    size = 0
    try:
        for sheet in book.worksheets:
            parts.append(f"--- sheet: {sheet.title} ---")
            for row in sheet.iter_rows(values_only=True):
                if all(value is None for value in row):
                    continue
                line = " | ".join("" if value is None else str(value) for value in row)
                parts.append(line)
                size += len(line) + 1
                if size > max_chars:
                    parts.append("[… truncated]")
                    return "\n".join(parts)
    finally:
        book.close()
    return "\n".join(parts)


class _Text(HTMLParser):
    SKIP = frozenset({"script", "style", "noscript", "template"})
    BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def read_html(data: bytes) -> str:
    parser = _Text()
    parser.feed(decode_text(data))
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def read_json(data: bytes) -> str:
    text = decode_text(data)
    json.loads(text)  # a clear error for a broken file
    return text

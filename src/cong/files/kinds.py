"""What a file is, from its name and first bytes. A binary format whose contents do not
match its name (a ``.pdf`` that is not a PDF) is refused at upload."""

from __future__ import annotations

from pathlib import PurePosixPath

from cong.protocol.errors import invalid_request

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# extension -> (kind, the magic prefixes its contents must start with)
BINARY: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("pdf", (b"%PDF-",)),
    ".png": ("image", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image", (b"\xff\xd8\xff",)),
    ".jpeg": ("image", (b"\xff\xd8\xff",)),
    ".gif": ("image", (b"GIF87a", b"GIF89a")),
    ".webp": ("image", (b"RIFF",)),
    ".zip": ("zip", ZIP_MAGIC),
    ".docx": ("docx", ZIP_MAGIC),
    ".xlsx": ("xlsx", ZIP_MAGIC),
    ".pptx": ("pptx", ZIP_MAGIC),
}
FORMAT_NAMES = {"pdf": "PDF", "image": "image", "zip": "ZIP", "docx": "DOCX"} | {
    "xlsx": "XLSX",
    "pptx": "PPTX",
}
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
TEXT_KINDS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".yaml": "yaml", ".yml": "yaml"} | {
    ".html": "html",
    ".htm": "html",
}


def extension(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def kind_of(name: str, head: bytes) -> str:
    """``pdf``, ``image``, ``zip``, ``docx``, ``xlsx``, ``pptx``, ``csv``, ``json``,
    ``yaml``, ``html`` or ``text`` (anything else is read as text in its encoding)."""
    ext = extension(name)
    if ext in BINARY:
        return BINARY[ext][0]
    if ext in TEXT_KINDS:
        return TEXT_KINDS[ext]
    for kind, prefixes in (
        ("pdf", (b"%PDF-",)),
        ("image", (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8")),
        ("zip", ZIP_MAGIC),
    ):
        if head.startswith(prefixes):
            return kind
    return "text"


def image_type(name: str, head: bytes) -> str:
    """The image's media type, from its contents."""
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"GIF8"):
        return "image/gif"
    return IMAGE_TYPES.get(extension(name), "image/webp")


def check_declared_kind(name: str, head: bytes, size: int) -> None:
    """400 for an empty file, or a binary format whose first bytes do not match."""
    if size == 0:
        raise invalid_request(f"File {name!r} is empty.", param="file", code="empty_file")
    expected = BINARY.get(extension(name))
    if expected is None:
        return
    kind, prefixes = expected
    ok = head.startswith(prefixes)
    if ok and extension(name) == ".webp":
        ok = head[8:12] == b"WEBP"
    if not ok:
        raise invalid_request(
            f"File {name!r} is not a {FORMAT_NAMES[kind]} file: its contents do not match "
            "its name.",
            param="file",
            code="invalid_file_content",
        )

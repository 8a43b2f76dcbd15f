"""Text in any encoding: a byte-order mark decides (UTF-8/16/32), then strict UTF-8,
then charset detection (charset-normalizer: cp1258, cp1252, Shift-JIS, …). The result is
NFC-normalised (cp1258 writes Vietnamese tones as combining marks)."""

from __future__ import annotations

import codecs
import unicodedata

from charset_normalizer import from_bytes

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class NotText(ValueError):
    """The bytes are not text in any encoding we can tell."""


def decode_text(data: bytes) -> str:
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return unicodedata.normalize("NFC", data.decode(encoding, "replace"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        best = from_bytes(data[: 1024 * 1024]).best()
        if best is None or best.encoding is None:
            raise NotText("not text in any known encoding") from None
        text = data.decode(best.encoding, "replace")
    if "\x00" in text:
        raise NotText("binary data, not text")
    return unicodedata.normalize("NFC", text)

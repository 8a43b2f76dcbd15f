"""The result files of one answer: each file the model made (a ``create_file`` call or
a named code block) is stored for the user through the files service (same checks,
counted against the quota); more than one also comes as one ZIP. What could not be
stored is said in the answer, with its content, so nothing is lost."""

from __future__ import annotations

import io
import logging
import mimetypes
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import orjson

from cong.accounts.principal import Principal
from cong.files.result_blocks import named_blocks
from cong.files.service import QUOTA_EXCEEDED, Files, clean_filename, quota_exceeded
from cong.protocol.errors import APIError

log = logging.getLogger("cong.files")
ZIP_NAME = "files.zip"
QUOTA_NOTE = "storage quota exceeded / hết dung lượng lưu trữ"


@dataclass(frozen=True, slots=True)
class ResultFile:
    id: str
    filename: str
    bytes: int
    download_url: str
    kind: str  # "file" or "zip"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "bytes": self.bytes,
            "download_url": self.download_url,
            "kind": self.kind,
        }


def plain_name(name: str, fallback: str) -> str:
    """A model's file name made a plain one: its last path part, without control
    characters; ``fallback`` when nothing usable is left."""
    name = unicodedata.normalize("NFC", str(name)).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c) != "Cc").strip()[:200]
    try:
        return clean_filename(name)
    except APIError:
        return fallback


class ResultFiles:
    """Collects one answer's files (``save``), then the ZIP (``finish``)."""

    def __init__(self, files: Files, principal: Principal, link: Callable[[str], str]) -> None:
        self.files = files
        self.principal = principal
        self.link = link
        self.made: list[ResultFile] = []
        self.kept: list[tuple[str, bytes]] = []
        self.failed: list[tuple[str, str, str]] = []  # name, content, reason
        self.quota_full = False

    def _unique(self, name: str) -> str:
        taken = {n for n, _ in self.kept} | {n for n, _, _ in self.failed}
        if name not in taken:
            return name
        path = PurePosixPath(name)
        for n in range(2, 1000):
            candidate = f"{path.stem} ({n}){path.suffix}"
            if candidate not in taken:
                return candidate
        return name

    async def _store(self, name: str, data: bytes, kind: str) -> ResultFile:
        media = mimetypes.guess_type(name)[0] or "text/plain"
        info = await self.files.create(self.principal, name, data, media)
        made = ResultFile(info.id, info.filename, info.bytes, self.link(info.id), kind)
        self.made.append(made)
        return made

    async def save(self, name: str, content: str) -> str:
        """Store one file; the words for the model (a tool result)."""
        name = self._unique(plain_name(name, f"file-{len(self.kept) + len(self.failed) + 1}.txt"))
        data = content.encode()
        try:
            if self.quota_full:
                raise quota_exceeded()
            made = await self._store(name, data, "file")
        except APIError as error:
            self.quota_full = self.quota_full or error.code == QUOTA_EXCEEDED
            reason = QUOTA_NOTE if error.code == QUOTA_EXCEEDED else error.message
            self.failed.append((name, content, reason))
            log.info("a result file was not stored: %s", error.code or error.status)
            return f"Not saved: {reason}. The user sees its content in your answer instead."
        self.kept.append((name, data))
        return (
            f"Saved {made.filename} ({made.bytes} bytes). The user gets a download link "
            "with your answer; do not repeat the file's content."
        )

    async def save_call(self, call: dict[str, Any]) -> dict[str, Any]:
        """A ``create_file`` call done: the tool message that answers it."""
        function = call.get("function") or {}
        try:
            arguments = orjson.loads(function.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            arguments = None
        if (
            not isinstance(arguments, dict)
            or not isinstance(arguments.get("content"), str)
            or not isinstance(arguments.get("name"), str)
        ):
            words = "Not saved: the arguments must be a JSON object with 'name' and 'content'."
        else:
            words = await self.save(arguments["name"], arguments["content"])
        return {"role": "tool", "tool_call_id": str(call.get("id") or ""), "content": words}

    async def save_blocks(self, text: str) -> None:
        for name, content in named_blocks(text):
            await self.save(name, content)

    async def finish(self) -> None:
        """More than one file: the ZIP of them all."""
        if len(self.kept) < 2:
            return
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.kept:
                archive.writestr(name, data)
        name = self._unique(ZIP_NAME)
        try:
            if self.quota_full:
                raise quota_exceeded()
            await self._store(name, buffer.getvalue(), "zip")
        except APIError as error:
            reason = QUOTA_NOTE if error.code == QUOTA_EXCEEDED else error.message
            self.failed.append((name, "", reason))

    def entries(self) -> list[dict[str, Any]]:
        return [made.as_dict() for made in self.made]

    def note(self, *, with_contents: bool) -> str:
        """The line appended to the answer: a link per file; what was not stored, why,
        and (``with_contents``: it is not in the answer yet) its content."""
        lines: list[str] = []
        if self.made:
            links = " · ".join(f"[{m.filename}]({m.download_url})" for m in self.made)
            lines.append(f"⬇ {links}")
        for name, content, reason in self.failed:
            lines.append(f"⚠ {name}: {reason}")
            if with_contents and content:
                fence = "````" if "```" in content else "```"
                lines.append(f'{fence} title="{name}"\n{content.rstrip()}\n{fence}')
        return "\n\n" + "\n\n".join(lines) if lines else ""

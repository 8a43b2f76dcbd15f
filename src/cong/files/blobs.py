"""File contents on disk, named by the file's generated id (never the client's name):
``<root>/<2 hex digits>/<id>``. An upload is written to a temporary name next to its
final one and renamed into place only once it is complete and accepted."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

FILE_ID = re.compile(r"file-[0-9a-f]{24}")
CHUNK = 256 * 1024


def new_file_id() -> str:
    return "file-" + secrets.token_hex(12)


def is_file_id(value: str) -> bool:
    return FILE_ID.fullmatch(value) is not None


class TooLarge(Exception):
    """The upload passed its byte limit (nothing is kept)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class BlobWriter:
    """One upload in progress: ``write`` appends (TooLarge past ``limit``), ``commit``
    moves it into place, ``abort`` removes it. Keeps the first bytes for sniffing."""

    HEAD = 4096

    def __init__(self, store: BlobStore, file_id: str, limit: int) -> None:
        self.file_id = file_id
        self.limit = limit
        self.size = 0
        self.head = b""
        self._final = store.path(file_id)
        self._final.parent.mkdir(parents=True, exist_ok=True)
        self.temp_path = self._final.with_name(f".{file_id}.part")
        self._handle = self.temp_path.open("wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge(self.limit)
        if len(self.head) < self.HEAD:
            self.head += data[: self.HEAD - len(self.head)]
        self._handle.write(data)

    def close(self) -> None:
        self._handle.close()

    def commit(self) -> None:
        self._handle.close()
        os.replace(self.temp_path, self._final)

    def abort(self) -> None:
        self._handle.close()
        self.temp_path.unlink(missing_ok=True)
        self._final.unlink(missing_ok=True)


class BlobStore:
    """The files directory. (An S3-compatible store would implement the same four
    methods; see docs/files.md.)"""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, file_id: str) -> Path:
        if not is_file_id(file_id):
            raise ValueError("not a file id")
        return self.root / file_id[5:7] / file_id

    def writer(self, file_id: str, limit: int) -> BlobWriter:
        return BlobWriter(self, file_id, limit)

    def chunks(self, file_id: str) -> Iterator[bytes]:
        with self.path(file_id).open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    def read(self, file_id: str) -> bytes:
        return self.path(file_id).read_bytes()

    def delete(self, file_id: str) -> None:
        self.path(file_id).unlink(missing_ok=True)

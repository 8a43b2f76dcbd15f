"""Where file contents live, named by the file's generated id (never the client's name).
:class:`BlobStore` is the one interface that touches the bytes: a writer for an upload
(kept only once it is committed), chunks and whole reads, delete. :class:`LocalBlobStore`
keeps them in a directory, ``<root>/<2 hex digits>/<id>``; ``files/s3_blobs.py`` in an
S3-compatible bucket."""

from __future__ import annotations

import os
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO

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


class StoreFailed(Exception):
    """The store could not do it (unreachable, refused). The message names the operation
    and the store's error code, never a credential."""


class BlobWriter(ABC):
    """One upload in progress: ``write`` appends (TooLarge past ``limit``), ``reading``
    opens what was written (for checks), ``commit`` keeps it, ``abort`` drops it (even
    after a commit). Keeps the first bytes for sniffing."""

    HEAD = 4096

    def __init__(self, file_id: str, limit: int) -> None:
        self.file_id = file_id
        self.limit = limit
        self.size = 0
        self.head = b""

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge(self.limit)
        if len(self.head) < self.HEAD:
            self.head += data[: self.HEAD - len(self.head)]
        self._append(data)

    @abstractmethod
    def _append(self, data: bytes) -> None: ...

    @abstractmethod
    def reading(self) -> AbstractContextManager[IO[bytes]]:
        """The bytes written so far, from the start (closed or rewound on exit)."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...


class BlobStore(ABC):
    @abstractmethod
    def writer(self, file_id: str, limit: int) -> BlobWriter: ...

    @abstractmethod
    def chunks(self, file_id: str) -> Iterator[bytes]:
        """The contents in pieces; the file is opened (and a missing one fails) here, the
        pieces are read as the iterator is advanced."""

    @abstractmethod
    def read(self, file_id: str) -> bytes: ...

    @abstractmethod
    def delete(self, file_id: str) -> None: ...

    def close(self) -> None:  # noqa: B027 - most stores hold nothing to close
        """Release connections."""


class LocalWriter(BlobWriter):
    """Written to a temporary name next to its final one, renamed into place on commit."""

    def __init__(self, final: Path, file_id: str, limit: int) -> None:
        super().__init__(file_id, limit)
        self._final = final
        self._final.parent.mkdir(parents=True, exist_ok=True)
        self.temp_path = final.with_name(f".{file_id}.part")
        self._handle = self.temp_path.open("wb")

    def _append(self, data: bytes) -> None:
        self._handle.write(data)

    @contextmanager
    def reading(self) -> Iterator[IO[bytes]]:
        if not self._handle.closed:
            self._handle.flush()
        with self.temp_path.open("rb") as handle:
            yield handle

    def close(self) -> None:
        self._handle.close()

    def commit(self) -> None:
        self._handle.close()
        os.replace(self.temp_path, self._final)

    def abort(self) -> None:
        self._handle.close()
        self.temp_path.unlink(missing_ok=True)
        self._final.unlink(missing_ok=True)


def _read_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


class LocalBlobStore(BlobStore):
    """The files directory (``files.dir``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, file_id: str) -> Path:
        if not is_file_id(file_id):
            raise ValueError("not a file id")
        return self.root / file_id[5:7] / file_id

    def writer(self, file_id: str, limit: int) -> BlobWriter:
        return LocalWriter(self.path(file_id), file_id, limit)

    def chunks(self, file_id: str) -> Iterator[bytes]:
        return _read_chunks(self.path(file_id).open("rb"))

    def read(self, file_id: str) -> bytes:
        return self.path(file_id).read_bytes()

    def delete(self, file_id: str) -> None:
        self.path(file_id).unlink(missing_ok=True)

"""The files service: accept an upload (size limit, quota, name and purpose checks),
list, look up, read and delete a user's files. Another user's file is not found."""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from cong.accounts.principal import Principal
from cong.file_settings import FilesSettings
from cong.files.archives import ArchiveLimits, BadArchive, check_archive
from cong.files.blobs import (
    BlobStore,
    BlobWriter,
    StoreFailed,
    TooLarge,
    is_file_id,
    new_file_id,
)
from cong.files.extraction import ExtractLimits, Extractor
from cong.files.kinds import ZIP_MAGIC, check_declared_kind
from cong.files.long_files import LongFiles
from cong.memory.embedder import Embedder
from cong.protocol.errors import APIError, invalid_request, not_found
from cong.storage import files as queries
from cong.storage.database import Database
from cong.storage.file_tables import StoredFile

log = logging.getLogger("cong.files")
T = TypeVar("T")
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
OUTPUT_PURPOSE = "assistants_output"  # files the gateway made (result files)
QUOTA_EXCEEDED = "storage_quota_exceeded"
MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class FileInfo:
    id: str
    filename: str
    purpose: str
    bytes: int
    content_type: str
    created_at: datetime

    def openai(self) -> dict[str, object]:
        """The official ``OpenAIFile`` object."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": int(self.created_at.timestamp()),
            "filename": self.filename,
            "purpose": purpose_kept(self.purpose),  # a row kept before evals was mapped
            "status": "processed",
        }


def _info(row: StoredFile) -> FileInfo:
    return FileInfo(row.id, row.filename, row.purpose, row.bytes, row.content_type, row.created_at)


def file_not_found(file_id: str) -> APIError:
    return not_found(f"No such File object: {file_id[:64]}")


def too_large(limit: int) -> APIError:
    return invalid_request(
        f"File too large: the limit is {limit} bytes.",
        param="file",
        code="file_too_large",
        status=413,
    )


def quota_exceeded() -> APIError:
    return invalid_request(
        "Storage quota exceeded: delete some files first.",
        param="file",
        code=QUOTA_EXCEEDED,
        status=413,
    )


def clean_filename(name: str) -> str:
    """The client's name, checked: a bare name (no path, no control characters, not
    ``.``/``..``), at most 255 characters. It is shown, never used as a path."""
    name = unicodedata.normalize("NFC", name).strip()
    if not name or name in (".", ".."):
        raise invalid_request("The file needs a name.", param="file")
    if "/" in name or "\\" in name or any(unicodedata.category(c) == "Cc" for c in name):
        raise invalid_request(
            f"File name {name[:80]!r} is not a plain file name (no paths or control characters).",
            param="file",
            code="invalid_file_name",
        )
    if len(name) > MAX_NAME:
        raise invalid_request(f"File name longer than {MAX_NAME} characters.", param="file")
    return name


async def _in_store(operation: Callable[[], T]) -> T:
    """A store operation, off the event loop; a failing store is 503 (logged without
    anything secret: the message names the operation and the store's code)."""
    try:
        return await asyncio.to_thread(operation)
    except StoreFailed as error:
        log.warning("file store failed: %s", error)
        raise APIError(
            503,
            "The file store is unavailable; try again later.",
            type="server_error",
            code="file_store_unavailable",
        ) from None


def check_purpose(purpose: str | None) -> str:
    """The purpose a file is kept under: ``evals`` is kept as ``user_data`` (the file
    object's official purposes do not include it), so it lists and filters as that."""
    if purpose is None:
        raise invalid_request(
            f"Missing required parameter: 'purpose' (one of {', '.join(PURPOSES)}).",
            param="purpose",
        )
    if purpose not in PURPOSES:
        raise invalid_request(
            f"Invalid purpose {str(purpose)[:40]!r}: expected one of {', '.join(PURPOSES)}.",
            param="purpose",
        )
    return purpose_kept(purpose)


def purpose_kept(purpose: str) -> str:
    return "user_data" if purpose == "evals" else purpose


class Upload:
    """An upload in progress, written to disk as it arrives (``write``: 413 past the
    per-file limit or the user's remaining quota). ``Files.finish`` keeps it, ``abort``
    drops it."""

    def __init__(self, writer: BlobWriter, file_limit: int, quota_left: int) -> None:
        self.writer = writer
        self.file_limit = file_limit
        self.quota_left = quota_left

    def write(self, data: bytes) -> None:
        try:
            self.writer.write(data)
        except TooLarge:
            if self.writer.size > self.file_limit:
                raise too_large(self.file_limit) from None
            raise quota_exceeded() from None

    def abort(self) -> None:
        self.writer.abort()


class Files:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        settings: FilesSettings,
        embedder: Embedder | None = None,
    ) -> None:
        self.db = db
        self.blobs = blobs
        self.settings = settings
        self.limits = ExtractLimits(
            archive=ArchiveLimits(
                max_members=settings.archive_max_members,
                max_bytes=settings.archive_max_bytes,
                max_ratio=settings.archive_max_ratio,
            ),
            max_chars=settings.extract_max_chars,
            timeout=settings.extract_timeout,
            memory_bytes=settings.extract_memory_mb * 1024 * 1024,
        )
        self.extractor = Extractor(self.limits)
        self.long = LongFiles(db, embedder, settings)

    def close(self) -> None:
        self.extractor.close()
        self.blobs.close()

    def _check_archive(self, name: str, writer: BlobWriter) -> None:
        """A ZIP-based file (ZIP, DOCX, XLSX, PPTX) with unsafe paths or past the limits
        (a zip bomb) is refused at upload."""
        try:
            with writer.reading() as contents:
                check_archive(contents, self.limits.archive)
        except BadArchive as error:
            raise invalid_request(
                f"The archive {name!r} is refused: {error}.", param="file", code="unsafe_archive"
            ) from None

    async def storage(self, principal: Principal) -> dict[str, int]:
        """The caller's limits and what their files take now."""
        async with self.db.session() as session:
            used = await queries.used_bytes(session, principal.user_id)
        return {
            "max_file_bytes": self.settings.max_file_bytes,
            "quota_bytes": self.settings.user_quota_bytes,
            "used_bytes": used,
        }

    async def start_upload(self, principal: Principal) -> Upload:
        async with self.db.session() as session:
            used = await queries.used_bytes(session, principal.user_id)
        left = max(0, self.settings.user_quota_bytes - used)
        limit = min(self.settings.max_file_bytes, left)
        writer = await asyncio.to_thread(self.blobs.writer, new_file_id(), limit)
        return Upload(writer, self.settings.max_file_bytes, left)

    async def finish(
        self,
        principal: Principal,
        upload: Upload,
        *,
        filename: str,
        purpose: str | None,
        content_type: str,
    ) -> FileInfo:
        """Check the name, purpose and contents; store the row and move the blob into
        place. On any refusal nothing is kept."""
        try:
            name = clean_filename(filename)
            kept_purpose = check_purpose(purpose)
        except BaseException:
            upload.abort()
            raise
        return await self._keep(principal, upload, name, kept_purpose, content_type)

    async def create(
        self, principal: Principal, filename: str, data: bytes, content_type: str
    ) -> FileInfo:
        """A file the gateway makes for the user (a result file, purpose
        ``assistants_output``): the same checks as an upload (name, size, quota,
        contents), counted against the user's quota."""
        name = clean_filename(filename)
        if not data:
            raise invalid_request(f"The file {name!r} is empty.", param="file", code="empty_file")
        upload = await self.start_upload(principal)
        try:
            await asyncio.to_thread(upload.write, data)
        except BaseException:
            upload.abort()
            raise
        return await self._keep(principal, upload, name, OUTPUT_PURPOSE, content_type)

    async def _keep(
        self, principal: Principal, upload: Upload, name: str, purpose: str, content_type: str
    ) -> FileInfo:
        try:
            check_declared_kind(name, upload.writer.head, upload.writer.size)
            if upload.writer.head.startswith(ZIP_MAGIC):
                await asyncio.to_thread(self._check_archive, name, upload.writer)
            row = StoredFile(
                id=upload.writer.file_id,
                user_id=principal.user_id,
                filename=name,
                purpose=purpose,
                bytes=upload.writer.size,
                content_type=content_type[:127] or "application/octet-stream",
            )
            await _in_store(upload.writer.commit)
            async with self.db.session() as session, session.begin():
                await queries.add_file(session, row)
                used = await queries.used_bytes(session, principal.user_id)
                if used > self.settings.user_quota_bytes:  # a concurrent upload won
                    raise quota_exceeded()
        except BaseException:
            upload.abort()
            raise
        return _info(row)

    async def get(self, principal: Principal, file_id: str) -> FileInfo:
        if not is_file_id(file_id):
            raise file_not_found(file_id)
        async with self.db.session() as session:
            row = await queries.find_file(session, principal.user_id, file_id)
        if row is None:
            raise file_not_found(file_id)
        return _info(row)

    async def list(
        self,
        principal: Principal,
        *,
        purpose: str | None = None,
        limit: int = 10_000,
        after: str | None = None,
        ascending: bool = False,
    ) -> tuple[list[FileInfo], bool]:
        """Up to ``limit`` files and whether there are more."""
        async with self.db.session() as session:
            cursor = None
            if after:
                cursor = await queries.find_file(session, principal.user_id, after)
                if cursor is None:
                    raise file_not_found(after)
            rows = await queries.list_files(
                session,
                principal.user_id,
                purpose=purpose_kept(purpose) if purpose is not None else None,
                limit=limit + 1,
                after=cursor,
                ascending=ascending,
            )
        return [_info(row) for row in rows[:limit]], len(rows) > limit

    async def content(self, principal: Principal, file_id: str) -> tuple[FileInfo, Iterator[bytes]]:
        info = await self.get(principal, file_id)
        return info, await _in_store(lambda: self.blobs.chunks(info.id))

    async def read(self, principal: Principal, file_id: str) -> tuple[FileInfo, bytes]:
        info = await self.get(principal, file_id)
        return info, await self.read_blob(info)

    async def read_blob(self, info: FileInfo) -> bytes:
        return await _in_store(lambda: self.blobs.read(info.id))

    async def ids_of(self, user_id: int) -> Sequence[str]:
        async with self.db.session() as session:
            return await queries.file_ids_of(session, user_id)

    async def drop_contents(self, file_ids: Sequence[str]) -> None:
        """Remove the stored contents of files whose rows are gone (a deleted user's):
        nothing of a deleted user stays in the store."""
        for file_id in file_ids:
            self.long.forget(file_id)
            try:
                await asyncio.to_thread(self.blobs.delete, file_id)
            except (OSError, StoreFailed) as error:
                log.warning("file %s: its contents were not deleted: %s", file_id, error)

    async def delete(self, principal: Principal, file_id: str) -> None:
        if not is_file_id(file_id):
            raise file_not_found(file_id)
        async with self.db.session() as session, session.begin():
            deleted = await queries.delete_file(session, principal.user_id, file_id)
        if not deleted:
            raise file_not_found(file_id)
        self.long.forget(file_id)
        try:
            await asyncio.to_thread(self.blobs.delete, file_id)
        except (OSError, StoreFailed) as error:  # the row is gone: the file is
            log.warning("file %s deleted, its contents not: %s", file_id, error)

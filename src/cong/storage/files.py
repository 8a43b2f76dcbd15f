"""Queries for uploaded files. Every read is scoped to the owner: another user's file
is simply not found."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.file_tables import FileChunk, StoredFile


async def add_file(session: AsyncSession, row: StoredFile) -> None:
    session.add(row)
    await session.flush()


async def find_file(session: AsyncSession, user_id: int, file_id: str) -> StoredFile | None:
    query = select(StoredFile).where(StoredFile.id == file_id, StoredFile.user_id == user_id)
    return (await session.execute(query)).scalar_one_or_none()


async def list_files(
    session: AsyncSession,
    user_id: int,
    *,
    purpose: str | None,
    limit: int,
    after: StoredFile | None,
    ascending: bool,
) -> Sequence[StoredFile]:
    """Newest first (or oldest first), ``limit`` rows after the cursor row ``after``."""
    query = select(StoredFile).where(StoredFile.user_id == user_id)
    if purpose:
        query = query.where(StoredFile.purpose == purpose)
    key = (StoredFile.created_at, StoredFile.id)
    if after is not None:
        cursor = (after.created_at, after.id)
        if ascending:
            query = query.where(
                (key[0] > cursor[0]) | ((key[0] == cursor[0]) & (key[1] > cursor[1]))
            )
        else:
            query = query.where(
                (key[0] < cursor[0]) | ((key[0] == cursor[0]) & (key[1] < cursor[1]))
            )
    order = [k.asc() if ascending else k.desc() for k in key]
    return (await session.execute(query.order_by(*order).limit(limit))).scalars().all()


async def used_bytes(session: AsyncSession, user_id: int) -> int:
    query = select(func.coalesce(func.sum(StoredFile.bytes), 0)).where(
        StoredFile.user_id == user_id
    )
    return int((await session.execute(query)).scalar_one())


async def delete_file(session: AsyncSession, user_id: int, file_id: str) -> bool:
    """Deletes the user's file row and its chunks."""
    if await find_file(session, user_id, file_id) is None:
        return False
    await session.execute(delete(FileChunk).where(FileChunk.file_id == file_id))
    result = await session.execute(
        delete(StoredFile).where(StoredFile.id == file_id, StoredFile.user_id == user_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def file_ids_of(session: AsyncSession, user_id: int) -> list[str]:
    """Every file id of the user (their rows go with the user; the blobs do not)."""
    rows = await session.scalars(select(StoredFile.id).where(StoredFile.user_id == user_id))
    return list(rows)


async def chunks(session: AsyncSession, file_id: str) -> Sequence[FileChunk]:
    """A file's chunks in document order (none: not chunked yet)."""
    query = select(FileChunk).where(FileChunk.file_id == file_id).order_by(FileChunk.seq)
    return (await session.execute(query)).scalars().all()


async def add_chunks(session: AsyncSession, rows: list[FileChunk]) -> None:
    session.add_all(rows)
    await session.flush()

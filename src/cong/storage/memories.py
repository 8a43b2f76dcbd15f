"""Queries for a user's memories: rows, and everything the in-process index of
``memory/user_index.py`` is built from. Every query names the owner; every change bumps
the owner's revision (that index's key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.memory_tables import Conversation, Memory, MemoryRevision
from cong.storage.tables import utcnow


async def state(session: AsyncSession, user_id: int) -> tuple[int, int]:
    """The user's (revision, deletions): every write bumps the revision, every delete
    also the deletions."""
    row = (
        await session.execute(
            select(MemoryRevision.revision, MemoryRevision.deletions).where(
                MemoryRevision.user_id == user_id
            )
        )
    ).first()
    return (int(row[0]), int(row[1])) if row is not None else (0, 0)


async def bump(session: AsyncSession, user_id: int, *, deleted: bool = False) -> int:
    """The user's next revision (taken in the caller's transaction: writes of one user
    get revisions in the order they commit)."""
    changed = await session.execute(
        update(MemoryRevision)
        .where(MemoryRevision.user_id == user_id)
        .values(
            revision=MemoryRevision.revision + 1,
            deletions=MemoryRevision.deletions + (1 if deleted else 0),
        )
    )
    if not changed.rowcount:  # type: ignore[attr-defined]
        session.add(MemoryRevision(user_id=user_id, revision=1, deletions=int(deleted)))
        await session.flush()
    return (await state(session, user_id))[0]


async def add(
    session: AsyncSession,
    *,
    user_id: int,
    text: str,
    kind: str,
    embedding: bytes | None,
    source: str | None = None,
    pinned: bool = False,
    revision: int | None = None,
) -> Memory:
    """A new memory, written at ``revision`` (None: bumps the user's revision)."""
    now = utcnow()
    row = Memory(
        user_id=user_id,
        text=text,
        kind=kind,
        embedding=embedding,
        source_conversation_id=source,
        pinned=pinned,
        revision=revision if revision is not None else await bump(session, user_id),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def get(session: AsyncSession, user_id: int, memory_id: int) -> Memory | None:
    found: Memory | None = await session.scalar(
        select(Memory).where(Memory.id == memory_id, Memory.user_id == user_id)
    )
    return found


async def by_ids(session: AsyncSession, user_id: int, ids: list[int]) -> list[Memory]:
    if not ids:
        return []
    rows = await session.scalars(
        select(Memory).where(Memory.user_id == user_id, Memory.id.in_(ids))
    )
    return list(rows.all())


async def edit(session: AsyncSession, user_id: int, memory_id: int, **values: Any) -> bool:
    if await get(session, user_id, memory_id) is None:
        return False
    values["updated_at"] = utcnow()
    values["revision"] = await bump(session, user_id)
    await session.execute(
        update(Memory).where(Memory.id == memory_id, Memory.user_id == user_id).values(**values)
    )
    return True


async def attribute(
    session: AsyncSession, user_id: int, memory_ids: list[int], conversation_id: str
) -> None:
    """Sets the source conversation of the user's ``memory_ids`` (if the conversation is
    still there: deleted meanwhile, they keep none)."""
    exists = select(Conversation.id).where(
        Conversation.id == conversation_id, Conversation.user_id == user_id
    )
    await session.execute(
        update(Memory)
        .where(Memory.user_id == user_id, Memory.id.in_(memory_ids), exists.exists())
        .values(source_conversation_id=conversation_id)
    )


async def remove(session: AsyncSession, user_id: int, memory_id: int) -> bool:
    """Deletes the row: its text, its vector and (by trigger / index) its full-text entry."""
    result = await session.execute(
        delete(Memory).where(Memory.id == memory_id, Memory.user_id == user_id)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await bump(session, user_id, deleted=True)
    return True


async def listing(session: AsyncSession, user_id: int, limit: int, offset: int = 0) -> list[Memory]:
    rows = await session.scalars(
        select(Memory)
        .where(Memory.user_id == user_id)
        .order_by(Memory.pinned.desc(), Memory.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all())


async def count(session: AsyncSession, user_id: int) -> int:
    return int(await session.scalar(select(func.count()).where(Memory.user_id == user_id)) or 0)


async def index_rows(
    session: AsyncSession, user_id: int, since: int | None = None
) -> list[tuple[int, str, bytes | None, bool]]:
    """(id, text, float32 vector, pinned) of the user's memories, in id order: all of
    them, or those written after revision ``since``."""
    query = select(Memory.id, Memory.text, Memory.embedding, Memory.pinned).where(
        Memory.user_id == user_id
    )
    if since is not None:
        query = query.where(Memory.revision > since)
    rows = await session.execute(query.order_by(Memory.id))
    return [(int(r[0]), str(r[1]), r[2], bool(r[3])) for r in rows.all()]


async def ids(session: AsyncSession, user_id: int) -> list[int]:
    rows = await session.scalars(select(Memory.id).where(Memory.user_id == user_id))
    return [int(i) for i in rows.all()]


async def touch(session: AsyncSession, user_id: int, ids: list[int], when: datetime) -> None:
    if ids:
        await session.execute(
            update(Memory)
            .where(Memory.user_id == user_id, Memory.id.in_(ids))
            .values(last_used_at=when)
        )


async def remove_all(session: AsyncSession, user_id: int) -> int:
    result = await session.execute(delete(Memory).where(Memory.user_id == user_id))
    await bump(session, user_id, deleted=True)
    return int(result.rowcount)  # type: ignore[attr-defined]

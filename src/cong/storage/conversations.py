"""Queries for conversations and their messages. Every query names the owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.memory_tables import Conversation, ConversationMessage
from cong.storage.tables import utcnow


async def get(session: AsyncSession, user_id: int, conversation_id: str) -> Conversation | None:
    found: Conversation | None = await session.scalar(
        select(Conversation).where(
            Conversation.id == conversation_id, Conversation.user_id == user_id
        )
    )
    return found


async def messages(
    session: AsyncSession, conversation_id: str, after: int | None = None
) -> list[ConversationMessage]:
    query = select(ConversationMessage).where(
        ConversationMessage.conversation_id == conversation_id
    )
    if after is not None:
        query = query.where(ConversationMessage.id > after)
    return list((await session.scalars(query.order_by(ConversationMessage.id))).all())


async def add_turns(
    session: AsyncSession,
    new: list[dict[str, Any]],
    turns: list[tuple[str, list[dict[str, Any]], str]],
) -> None:
    """New conversations (id, user_id, title, client, model), then turns (conversation
    id, message rows, model) in order, with Core ``executemany`` inserts (the ORM's unit
    of work cost more than the writes), and one update of each conversation's
    ``updated_at`` and model."""
    now = utcnow()
    if new:
        await session.execute(
            insert(Conversation),
            [
                {
                    "id": fields["id"],
                    "user_id": fields["user_id"],
                    "title": str(fields["title"])[:200],
                    "title_folded": str(fields["title"])[:200].casefold()[:200],
                    "client": str(fields["client"])[:64],
                    "model": str(fields["model"])[:128],
                    "created_at": now,
                    "updated_at": now,
                }
                for fields in new
            ],
        )
    rows = [
        {"conversation_id": conversation_id, "created_at": now, **row}
        for conversation_id, messages, _ in turns
        for row in messages
    ]
    if rows:
        await session.execute(insert(ConversationMessage), rows)
    latest = {conversation_id: model for conversation_id, _, model in turns}
    for conversation_id, model in latest.items():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(updated_at=now, model=model[:128])
        )


async def set_summary(
    session: AsyncSession, conversation_id: str, summary: str, until: int
) -> None:
    await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(summary=summary, summary_until=until)
    )


async def listing(
    session: AsyncSession, user_id: int, search: str | None, limit: int, before: datetime | None
) -> list[Conversation]:
    query = select(Conversation).where(Conversation.user_id == user_id)
    if search:
        pattern = "%" + search.casefold().replace("%", "").replace("_", "") + "%"
        in_messages = (
            select(ConversationMessage.conversation_id)
            .where(ConversationMessage.text_folded.like(pattern))
            .scalar_subquery()
        )
        query = query.where(
            or_(Conversation.title_folded.like(pattern), Conversation.id.in_(in_messages))
        )
    if before is not None:
        query = query.where(Conversation.updated_at < before)
    query = query.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit)
    return list((await session.scalars(query)).all())


async def rename(session: AsyncSession, user_id: int, conversation_id: str, title: str) -> bool:
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.user_id == user_id)
        .values(title=title[:200], title_folded=title[:200].casefold()[:200])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def remove(session: AsyncSession, user_id: int, conversation_id: str) -> bool:
    """Deletes the conversation, its messages and its summary (rows, not flags)."""
    owned = await get(session, user_id, conversation_id)
    if owned is None:
        return False
    await session.execute(
        delete(ConversationMessage).where(ConversationMessage.conversation_id == conversation_id)
    )
    await session.execute(delete(Conversation).where(Conversation.id == conversation_id))
    return True


async def has_message(session: AsyncSession, conversation_id: str, message_id: int) -> bool:
    found = await session.scalar(
        select(ConversationMessage.id).where(
            ConversationMessage.conversation_id == conversation_id,
            ConversationMessage.id == message_id,
        )
    )
    return found is not None


async def cut(session: AsyncSession, conversation: Conversation, from_message_id: int) -> int:
    result = await session.execute(
        delete(ConversationMessage).where(
            ConversationMessage.conversation_id == conversation.id,
            ConversationMessage.id >= from_message_id,
        )
    )
    if conversation.summary_until is not None and conversation.summary_until >= from_message_id:
        conversation.summary = None
        conversation.summary_until = None
    conversation.updated_at = utcnow()
    return int(result.rowcount)  # type: ignore[attr-defined]

"""Conversations, their messages and a user's memories (``memory/``).

Memories are searched in process (``memory/user_index.py``), from their text and vector
columns, the same way on SQLite and PostgreSQL: there is no database full-text index.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy import Text as TextType
from sqlalchemy.orm import Mapped, mapped_column

from cong.storage.tables import ID_TYPE, Base, utcnow


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_user_updated", "user_id", "updated_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "conv_" + 24 hex
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200), default="")
    title_folded: Mapped[str] = mapped_column(String(200), default="")  # for search
    client: Mapped[str] = mapped_column(String(64), default="")  # "web", "api", a key id
    model: Mapped[str] = mapped_column(String(128), default="")
    # The oldest turns, summarised once they no longer fit the model's context.
    summary: Mapped[str | None] = mapped_column(TextType, nullable=True)
    summary_until: Mapped[int | None] = mapped_column(ID_TYPE, nullable=True)  # message id
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConversationMessage(Base):
    __tablename__ = "conversation_messages"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    # The message as sent: a string, or OpenAI content parts.
    content: Mapped[Any] = mapped_column(JSON)
    text_folded: Mapped[str] = mapped_column(TextType, default="")  # for search
    model: Mapped[str] = mapped_column(String(128), default="")
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    # Memory ids injected for the answer (assistant turns in ``full`` mode).
    memories: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    # An assistant turn's tool calls ([{"id", "type", "function": {"name", "arguments"}}])
    # and a tool turn's answered call id, as OpenAI sends them.
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    tool_call_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Memory(Base):
    __tablename__ = "memories"
    __table_args__ = (Index("ix_memories_user_revision", "user_id", "revision"),)

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(TextType)
    kind: Mapped[str] = mapped_column(String(16), default="explicit")  # or "extracted"
    source_conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True
    )
    # float32 little-endian; None until embedded.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    # The owner's revision when this row was last written (in-process indexes read the
    # rows written since the revision they hold).
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class MemoryRevision(Base):
    """Bumped on every change to a user's memories (``deletions`` on every delete too):
    a process's index of the user is brought up to date only when it moved."""

    __tablename__ = "memory_revisions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(Integer, default=0)
    deletions: Mapped[int] = mapped_column(Integer, default=0)

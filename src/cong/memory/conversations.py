"""A user's conversations: list (with search), get, rename, delete, export as JSON or
Markdown. The request path's side (loading and storing turns) is in ``chat_turns``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cong.memory.turn_writer import TurnWriter
from cong.protocol.errors import invalid_request, not_found
from cong.storage import conversations as queries
from cong.storage.database import Database
from cong.storage.memory_tables import Conversation, ConversationMessage


def conversation_dict(row: Conversation) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "conversation",
        "title": row.title,
        "client": row.client,
        "model": row.model,
        "summary": row.summary,
        "created_at": int(row.created_at.timestamp()),
        "updated_at": int(row.updated_at.timestamp()),
    }


def message_dict(row: ConversationMessage) -> dict[str, Any]:
    message = {
        "id": row.id,
        "role": row.role,
        "content": row.content,
        "model": row.model,
        "tokens": row.tokens,
        "memories": row.memories or [],
        "created_at": int(row.created_at.timestamp()),
    }
    if row.tool_calls:
        message["tool_calls"] = row.tool_calls
    if row.tool_call_id is not None:
        message["tool_call_id"] = row.tool_call_id
    return message


def text_of(content: Any) -> str:
    """The text of a message's content (a string or content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("text")
        )
    return ""


@dataclass(frozen=True)
class Transcript:
    conversation: dict[str, Any]
    messages: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {**self.conversation, "messages": self.messages}

    def markdown(self) -> str:
        title = self.conversation["title"] or self.conversation["id"]
        lines = [f"# {title}", ""]
        lines.append(f"- id: `{self.conversation['id']}`")
        if self.conversation["model"]:
            lines.append(f"- model: {self.conversation['model']}")
        lines.append("")
        for message in self.messages:
            lines.append(f"## {message['role']}")
            lines.append("")
            if message.get("tool_call_id"):
                lines += [f"(result of `{message['tool_call_id']}`)", ""]
            if text_of(message["content"]):
                lines += [text_of(message["content"]), ""]
            for call in message.get("tool_calls") or ():
                function = call["function"]
                lines += [f"- calls `{function['name']}({function['arguments']})` (`{call['id']}`)"]
            if message.get("tool_calls"):
                lines.append("")
        return "\n".join(lines)


class Conversations:
    """The owner's conversations. Every call first writes the turns this process still
    holds (memory/turn_writer.py), so an answer just given is always there."""

    def __init__(self, db: Database, writer: TurnWriter) -> None:
        self._db = db
        self._writer = writer

    async def listing(
        self, user_id: int, search: str | None, limit: int, before: datetime | None
    ) -> list[dict[str, Any]]:
        await self._writer.settle()
        async with self._db.session() as session:
            rows = await queries.listing(session, user_id, search, limit, before)
        return [conversation_dict(r) for r in rows]

    async def get(self, user_id: int, conversation_id: str) -> Transcript:
        await self._writer.settle()
        async with self._db.session() as session:
            row = await queries.get(session, user_id, conversation_id)
            if row is None:
                raise _missing(conversation_id)
            messages = await queries.messages(session, conversation_id)
        return Transcript(conversation_dict(row), [message_dict(m) for m in messages])

    async def rename(self, user_id: int, conversation_id: str, title: str) -> dict[str, Any]:
        await self._writer.settle()
        title = " ".join("".join(c if c.isprintable() else " " for c in title).split())
        if not title:
            raise invalid_request("A title needs some text.", param="title")
        async with self._db.session() as session, session.begin():
            if not await queries.rename(session, user_id, conversation_id, title):
                raise _missing(conversation_id)
        return (await self.get(user_id, conversation_id)).conversation

    async def cut(self, user_id: int, conversation_id: str, from_message_id: int) -> int:
        """Deletes a message and every later one (regenerate, edit and resend). A cut
        into the summarised part also drops the summary."""
        await self._writer.settle()
        async with self._db.session() as session, session.begin():
            row = await queries.get(session, user_id, conversation_id)
            if row is None:
                raise _missing(conversation_id)
            if not await queries.has_message(session, conversation_id, from_message_id):
                raise not_found(
                    f"No message {from_message_id} in the conversation '{conversation_id}'."
                )
            return await queries.cut(session, row, from_message_id)

    async def delete(self, user_id: int, conversation_id: str) -> None:
        await self._writer.settle()
        async with self._db.session() as session, session.begin():
            if not await queries.remove(session, user_id, conversation_id):
                raise _missing(conversation_id)


def _missing(conversation_id: str) -> Exception:
    return not_found(f"No conversation '{conversation_id}'.")

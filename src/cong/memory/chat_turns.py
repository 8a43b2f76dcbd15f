"""The memory steps of a chat request: before routing, continue the conversation (its
earlier turns, fitted to the context) and inject the user's relevant memories; after the
answer, store both turns. ``off`` returns at once: no query, no write."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cong.accounts.principal import Principal
from cong.billing import estimates
from cong.gateway.service import Result
from cong.memory import context_fit
from cong.memory.answer_text import (
    StreamText,
    completion_text,
    completion_tokens,
    completion_tool_calls,
    is_last,
)
from cong.memory.conversations import text_of
from cong.memory.explicit import explicit_fact
from cong.memory.modes import Mode, mode_of
from cong.memory.store import Memories
from cong.memory.tool_turns import as_message, replayable, tool_call_id_of, tool_calls_of
from cong.memory.turn_writer import PendingTurn, TurnWriter
from cong.protocol.errors import invalid_request, not_found
from cong.protocol.stream import Stream
from cong.settings import MemorySettings
from cong.storage import conversations as queries
from cong.storage.database import Database
from cong.storage.memory_tables import Conversation, ConversationMessage

log = logging.getLogger("cong.memory")

ChatCall = Callable[[Principal, dict[str, Any], str], Awaitable[Result]]
BODY_FIELD = "conversation_id"
HEADER = "x-conversation-id"
MEMORIES_HEADER = "x-memories-used"


@dataclass
class Stored:
    """A conversation of the user, and its messages after the stored summary."""

    conversation: Conversation
    messages: list[ConversationMessage]


@dataclass
class Turn:
    """One request's memory state, from the step before routing to the store after."""

    mode: Mode
    principal: Principal
    conversation_id: str
    model: str
    new_messages: list[dict[str, Any]]
    query: str
    request_id: str = ""
    memory_ids: list[int] = field(default_factory=list)
    new_conversation: dict[str, Any] | None = None  # written with the first turn
    remembered: list[int] = field(default_factory=list)  # explicit writes of this turn
    replayed: int = 0  # messages of the request before the new ones (system, stored turns)

    @property
    def headers(self) -> dict[str, str]:
        headers = {HEADER: self.conversation_id}
        if self.mode == "full":
            headers[MEMORIES_HEADER] = ",".join(str(i) for i in self.memory_ids)
        return headers


def _latest_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return text_of(message.get("content"))
    return ""


def without_nul(value: Any) -> Any:
    """``value`` with NUL characters dropped from its strings, however deep: PostgreSQL's
    text and JSON cannot hold them (the turn would be refused and lost)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, dict):
        return {key: without_nul(item) for key, item in value.items()}
    return value


def _title(text: str) -> str:
    words = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return words if len(words) <= 60 else words[:57].rstrip() + "…"


class ChatMemory:
    def __init__(
        self,
        db: Database,
        memories: Memories,
        settings: MemorySettings,
        chat: ChatCall,
        context_of: Callable[[str], Awaitable[int | None]],
        after_turn: Callable[[Turn, str], None] | None = None,
    ) -> None:
        self._db = db
        self.memories = memories
        self._settings = settings
        self._chat = chat
        self._context_of = context_of
        self._after_turn = after_turn
        self._tasks: set[asyncio.Task[None]] = set()
        self.writer = TurnWriter(db)

    def is_off(self, principal: Principal, body: dict[str, Any], *, web: bool) -> bool:
        """``off`` mode: nothing to prepare (the conversation id field is removed from
        ``body``, as ``prepare`` does)."""
        if mode_of(principal, self._settings, web=web) != "off":
            return False
        body.pop(BODY_FIELD, None)
        return True

    async def prepare(
        self,
        principal: Principal,
        body: dict[str, Any],
        conversation_id: str | None,
        request_id: str,
        *,
        client: str,
        web: bool = False,
    ) -> Turn | None:
        """The memory step before routing. Changes ``body`` in place (the conversation
        id field removed; earlier turns and memories added) and returns the turn, or
        None in ``off`` mode."""
        from_body = body.pop(BODY_FIELD, None)
        mode = mode_of(principal, self._settings, web=web)
        if mode == "off":
            return None
        conversation_id = conversation_id or from_body
        if conversation_id is not None and not isinstance(conversation_id, str):
            raise invalid_request("conversation_id must be a string.", param=BODY_FIELD)
        messages = body.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return None  # validation answers this request with its own 400
        model = str(body.get("model") or "")
        system = [m for m in messages if m.get("role") in ("system", "developer")]
        new = [m for m in messages if m.get("role") not in ("system", "developer")]
        query = _latest_user_text(new)
        # A conversation named is the user's, or 404 before anything is written.
        stored = await self._stored(principal, conversation_id) if conversation_id else None
        turn = Turn(mode, principal, conversation_id or "", model, new, query, request_id)
        if mode == "full" and query:
            await self._explicit_write(turn, source=conversation_id)
        memory_message = await self._memory_message(turn) if mode == "full" else None
        fixed = [*system, *([memory_message] if memory_message else [])]
        if stored is not None:
            earlier = await self._earlier(turn, stored, fixed, body)
        else:
            earlier = []
            turn.conversation_id = "conv_" + secrets.token_hex(12)
            turn.new_conversation = {
                "id": turn.conversation_id,
                "user_id": principal.user_id,
                "title": _title(query) or "…",
                "client": client,
                "model": model,
            }
        body["messages"] = [*fixed, *earlier, *new]
        turn.replayed = len(body["messages"]) - len(new)
        return turn

    async def _explicit_write(self, turn: Turn, source: str | None) -> None:
        """A "remember …" of the latest user message, stored before the memories are
        read (so this answer already names it). A new conversation is not stored yet:
        its memories get it as their source once its first turn is (``store``)."""
        fact = explicit_fact(turn.query)
        if fact is None:
            return
        added = await self.memories.add(
            turn.principal.user_id, fact, kind="explicit", source=source
        )
        turn.remembered.append(added.id)

    async def _memory_message(self, turn: Turn) -> dict[str, Any] | None:
        if not turn.query:
            return None
        settings = self._settings
        text, turn.memory_ids = await self.memories.for_prompt(
            turn.principal.user_id,
            turn.query,
            settings.top_k,
            settings.inject_tokens,
            min_similarity=settings.min_similarity,
        )
        return {"role": "system", "content": text} if text else None

    async def _stored(self, principal: Principal, conversation_id: str) -> Stored:
        """The user's conversation and its messages after the stored summary (404 when
        it is not theirs, or does not exist)."""
        await self.writer.settle(conversation_id)
        for wait in (0.0, self.writer.flush_seconds * 2):
            # Not found: perhaps another worker has not written its first turn yet.
            await asyncio.sleep(wait)
            async with self._db.session() as session:
                row = await queries.get(session, principal.user_id, conversation_id)
                if row is not None:
                    rows = await queries.messages(session, conversation_id, after=row.summary_until)
                    return Stored(row, rows)
        raise not_found(f"No conversation '{conversation_id}'.")

    async def _earlier(
        self,
        turn: Turn,
        stored_turns: Stored,
        fixed_messages: list[dict[str, Any]],
        body: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """The stored turns to send before the turn's new ones (after the stored
        summary), fitted to the model's context, tool calls and results replayed in the
        shape OpenAI accepts."""
        row, rows = stored_turns.conversation, stored_turns.messages
        principal, conversation_id, new = turn.principal, turn.conversation_id, turn.new_messages
        summary = row.summary
        stored = [as_message(r.role, r.content, r.tool_calls, r.tool_call_id) for r in rows]
        model = str(body.get("model") or "")
        context = await self._context_of(model) or self._settings.context_tokens
        output = estimates.output_budget(body, min(1024, context // 4))
        fixed = estimates.prompt_tokens({"messages": [*fixed_messages, *new]})
        if summary:
            fixed += context_fit.message_tokens(context_fit.summary_message(summary))
        plan = context_fit.fit(fixed, stored, context - output)
        if plan.cut and plan.keep_from > 0:
            new_summary = await self._summarise(
                principal, model, summary, stored[: plan.keep_from], turn.request_id
            )
            if new_summary is not None:
                summary = new_summary
                async with self._db.session() as session, session.begin():
                    await queries.set_summary(
                        session, conversation_id, summary, rows[plan.keep_from - 1].id
                    )
            stored = stored[plan.keep_from :]
        return ([context_fit.summary_message(summary)] if summary else []) + replayable(stored, new)

    async def _summarise(
        self,
        principal: Principal,
        model: str,
        summary: str | None,
        messages: list[dict[str, Any]],
        request_id: str,
    ) -> str | None:
        """A summary by the summary model (metered to the user); None if it failed."""
        text = context_fit.transcript(summary, messages)
        body = context_fit.summary_request(self._settings.summary_model or model, text)
        try:
            result = await self._chat(principal, body, request_id + "-summary")
        except Exception as error:
            log.warning("conversation summary failed: %s", type(error).__name__)
            return None
        if not isinstance(result.payload, dict):
            return None
        return completion_text(result.payload).strip() or None

    async def store(
        self,
        turn: Turn,
        answer: str,
        tokens: int,
        tool_calls: list[dict[str, Any]] | None = None,
    ) -> None:
        """Stores the turn's new messages and the answer (its text and tool calls)."""
        rows = [
            {
                "role": str(m.get("role")),
                "content": m.get("content") if m.get("content") is not None else "",
                "text_folded": text_of(m.get("content")).casefold(),
                "model": "",
                "tokens": context_fit.message_tokens(m),
                "memories": None,
                "tool_calls": tool_calls_of(m) if m.get("role") == "assistant" else None,
                "tool_call_id": tool_call_id_of(m),
            }
            for m in turn.new_messages
        ]
        rows.append(
            {
                "role": "assistant",
                "content": answer,
                "text_folded": answer.casefold(),
                "model": turn.model,
                "tokens": tokens or estimates.text_tokens(answer),
                "memories": turn.memory_ids if turn.mode == "full" else None,
                "tool_calls": tool_calls,
                "tool_call_id": None,
            }
        )
        new, turn.new_conversation = turn.new_conversation, None
        rows = [{name: without_nul(value) for name, value in row.items()} for row in rows]
        self.writer.add(PendingTurn(turn.conversation_id, rows, turn.model, new))
        if new is not None and turn.remembered:
            self._spawn(self._attribute(turn))
        if self._after_turn is not None and turn.mode == "full":
            self._after_turn(turn, answer)

    async def finish(self, turn: Turn, result: Result) -> Result:
        """The answer with the memory headers; both turns stored once it is complete
        (a stream's from the text it relayed)."""
        headers = result.headers  # the same dict: a stream's upstream may add to it
        headers.update(turn.headers)
        if not isinstance(result.payload, dict):
            return Result(self._storing(turn, result.payload), headers)
        payload = result.payload
        await self.store(
            turn,
            completion_text(payload),
            completion_tokens(payload),
            completion_tool_calls(payload),
        )
        payload["conversation_id"] = turn.conversation_id
        return Result(payload, headers)

    async def _storing(self, turn: Turn, items: Stream) -> Stream:
        seen = StreamText()
        stored = False
        try:
            async for item in items:
                seen.see(item)
                if is_last(item):
                    # The response ends with this write: store the turn before it.
                    await self.store(turn, seen.text, seen.completion_tokens, seen.tool_calls)
                    stored = True
                yield item
            if not stored:
                await self.store(turn, seen.text, seen.completion_tokens, seen.tool_calls)
                stored = True
        finally:
            await items.aclose()
            if not stored and (seen.text or seen.calls):
                # Cut short (the client left): keep what was relayed, off the path.
                self._spawn(self.store(turn, seen.text, seen.completion_tokens, seen.tool_calls))

    async def _attribute(self, turn: Turn) -> None:
        """This turn's explicit memories name its conversation, once it is stored."""
        await self.writer.settle(turn.conversation_id)
        await self.memories.attribute(turn.principal.user_id, turn.remembered, turn.conversation_id)

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("storing a conversation turn failed")

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            await task
        await self.writer.close()

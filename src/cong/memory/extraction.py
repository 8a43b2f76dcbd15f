"""Automatic memories: after a ``full``-mode answer, the configured extractor model reads
the exchange and answers JSON (a schema-constrained list of facts about the user). New
facts are embedded and kept unless one already kept is as close as
``dedup_similarity``. Runs off the request path; its call goes through the gateway with
the user's own principal, so it is limited, billed and logged like any request."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from cong.memory.chat_turns import ChatCall, Turn
from cong.memory.store import Memories
from cong.memory.vectors import normalised

log = logging.getLogger("cong.memory")

PROMPT = (
    "You maintain a memory of durable facts about the user (name, preferences, projects, "
    "people, plans). From the exchange below, list only new facts about the user worth "
    "remembering for later conversations, each one short sentence in the user's language. "
    'Answer JSON: {"facts": ["..."]}; an empty list when there is nothing.'
)
SCHEMA = {
    "name": "memories",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {"facts": {"type": "array", "items": {"type": "string"}, "maxItems": 5}},
        "required": ["facts"],
        "additionalProperties": False,
    },
}
MAX_FACT = 300


def extraction_request(model: str, user: str, answer: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": PROMPT},
            {"role": "user", "content": f"User: {user}\nAssistant: {answer[:4000]}"},
        ],
        "response_format": {"type": "json_schema", "json_schema": SCHEMA},
        "temperature": 0,
        "max_tokens": 300,
    }


def facts_of(payload: dict[str, Any]) -> list[str]:
    choices = payload.get("choices") or [{}]
    content = (choices[0].get("message") or {}).get("content") or ""
    try:
        parsed = orjson.loads(content)
    except orjson.JSONDecodeError:
        return []
    facts = parsed.get("facts") if isinstance(parsed, dict) else None
    if not isinstance(facts, list):
        return []
    return [" ".join(str(f).split())[:MAX_FACT] for f in facts if str(f).strip()][:5]


class Extractor:
    def __init__(
        self, memories: Memories, chat: ChatCall, model: str, dedup_similarity: float
    ) -> None:
        self._memories = memories
        self._chat = chat
        self._model = model
        self._dedup = dedup_similarity
        self._tasks: set[asyncio.Task[None]] = set()

    def after_turn(self, turn: Turn, answer: str) -> None:
        if not turn.query or turn.remembered:
            return  # an explicit write already said what to keep
        task = asyncio.create_task(self._run(turn, answer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, turn: Turn, answer: str) -> None:
        try:
            await self.extract(turn, answer)
        except Exception as error:
            log.warning("memory extraction failed: %s", type(error).__name__)

    async def extract(self, turn: Turn, answer: str) -> list[int]:
        body = extraction_request(self._model, turn.query, answer)
        result = await self._chat(turn.principal, body, turn.request_id + "-memory")
        if not isinstance(result.payload, dict):
            return []
        facts = facts_of(result.payload)
        if not facts:
            return []
        vectors = await self._memories.embed(facts)
        user_id = turn.principal.user_id
        known = {m.text.lower() for m in await self._memories.search(user_id, " ".join(facts), 20)}
        added = []
        for index, fact in enumerate(facts):
            if fact.lower() in known:
                continue
            vector = normalised(vectors[index]) if vectors else None
            if vector is not None and await self._memories.closest(user_id, vector) >= self._dedup:
                continue
            kept = await self._memories.add(
                user_id, fact, kind="extracted", source=turn.conversation_id, vector=vector
            )
            known.add(fact.lower())
            added.append(kept.id)
        return added

    async def close(self) -> None:
        for task in list(self._tasks):
            await task

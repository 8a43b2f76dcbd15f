"""A user's memories: add (explicit or extracted), edit, pin, delete, list, hybrid search,
export and import. Everything is scoped by the owner's user id."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from cong.memory.embedder import Embedder
from cong.memory.retrieval import hybrid, injection, similarity_floor
from cong.memory.user_index import IndexCache, UserIndex
from cong.memory.vectors import from_blob, to_blob
from cong.memory.words import vietnamese_share
from cong.protocol.errors import invalid_request, not_found
from cong.storage import memories as queries
from cong.storage.database import Database
from cong.storage.memory_tables import Memory
from cong.storage.tables import utcnow

KINDS = ("explicit", "extracted")
MAX_TEXT = 2000
CANDIDATES = 20  # per ranking, before fusion
MAX_PINNED = 20  # pinned memories injected at most (newest first)
MAX_IMPORT = 1000
EMBED_BATCH = 64


@dataclass(frozen=True)
class MemoryView:
    id: int
    text: str
    kind: str
    source_conversation_id: str | None
    pinned: bool
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "kind": self.kind,
            "source_conversation_id": self.source_conversation_id,
            "pinned": self.pinned,
            "created_at": int(self.created_at.timestamp()),
            "updated_at": int(self.updated_at.timestamp()),
            "last_used_at": int(self.last_used_at.timestamp()) if self.last_used_at else None,
        }


def view(row: Memory) -> MemoryView:
    return MemoryView(
        id=row.id,
        text=row.text,
        kind=row.kind,
        source_conversation_id=row.source_conversation_id,
        pinned=row.pinned,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_used_at=row.last_used_at,
    )


def _clean(text: str) -> str:
    text = " ".join(str(text).replace("\x00", " ").split())
    if not text:
        raise invalid_request("A memory needs some text.", param="text")
    if len(text) > MAX_TEXT:
        raise invalid_request(f"A memory is at most {MAX_TEXT} characters.", param="text")
    return text


class Memories:
    def __init__(self, db: Database, embedder: Embedder) -> None:
        self._db = db
        self._embedder = embedder
        self._cache = IndexCache()
        self._tasks: set[asyncio.Task[None]] = set()

    async def embed(self, texts: list[str]) -> list[np.ndarray] | None:
        return await self._embedder.embed(texts)

    async def _vector(self, text: str) -> np.ndarray | None:
        vectors = await self._embedder.embed([text])
        return vectors[0] if vectors else None

    async def add(
        self,
        user_id: int,
        text: str,
        *,
        kind: str = "explicit",
        source: str | None = None,
        pinned: bool = False,
        vector: np.ndarray | None = None,
    ) -> MemoryView:
        text = _clean(text)
        if kind not in KINDS:
            raise invalid_request(f"kind is one of {', '.join(KINDS)}.", param="kind")
        if vector is None:
            vector = await self._vector(text)
        async with self._db.session() as session, session.begin():
            row = await queries.add(
                session,
                user_id=user_id,
                text=text,
                kind=kind,
                embedding=to_blob(vector) if vector is not None else None,
                source=source,
                pinned=pinned,
            )
        return view(row)

    async def get(self, user_id: int, memory_id: int) -> MemoryView:
        async with self._db.session() as session:
            row = await queries.get(session, user_id, memory_id)
        if row is None:
            raise not_found(f"No memory {memory_id}.")
        return view(row)

    async def edit(
        self, user_id: int, memory_id: int, text: str | None, pinned: bool | None
    ) -> MemoryView:
        values: dict[str, Any] = {}
        if text is not None:
            values["text"] = _clean(text)
            vector = await self._vector(values["text"])
            values["embedding"] = to_blob(vector) if vector is not None else None
        if pinned is not None:
            values["pinned"] = pinned
        if values:
            async with self._db.session() as session, session.begin():
                if not await queries.edit(session, user_id, memory_id, **values):
                    raise not_found(f"No memory {memory_id}.")
        return await self.get(user_id, memory_id)

    async def attribute(self, user_id: int, memory_ids: list[int], conversation_id: str) -> None:
        """Names ``conversation_id`` as the source of these memories (written before it
        was stored)."""
        async with self._db.session() as session, session.begin():
            await queries.attribute(session, user_id, memory_ids, conversation_id)

    async def delete(self, user_id: int, memory_id: int) -> None:
        async with self._db.session() as session, session.begin():
            if not await queries.remove(session, user_id, memory_id):
                raise not_found(f"No memory {memory_id}.")
        self._cache.forget(user_id)

    async def delete_all(self, user_id: int) -> int:
        async with self._db.session() as session, session.begin():
            removed = await queries.remove_all(session, user_id)
        self._cache.forget(user_id)
        return removed

    async def listing(self, user_id: int, limit: int, offset: int) -> tuple[list[MemoryView], int]:
        async with self._db.session() as session:
            rows = await queries.listing(session, user_id, limit, offset)
            total = await queries.count(session, user_id)
        return [view(r) for r in rows], total

    async def by_ids(self, user_id: int, ids: list[int]) -> list[MemoryView]:
        async with self._db.session() as session:
            rows = {r.id: r for r in await queries.by_ids(session, user_id, ids)}
        return [view(rows[i]) for i in ids if i in rows]

    async def index(self, user_id: int) -> UserIndex:
        """The user's in-process index, brought up to date when their memories changed
        (from the rows written since, or all of them the first time)."""
        async with self._db.session() as session:
            revision, deletions = await queries.state(session, user_id)
            cached = self._cache.get(user_id, revision)
            if cached is not None:
                return cached
            known = self._cache.latest(user_id)
            if known is None or known.revision > revision:
                index = UserIndex.build(
                    revision, deletions, await queries.index_rows(session, user_id)
                )
            else:
                changed = await queries.index_rows(session, user_id, since=known.revision)
                ids = None
                if deletions != known.deletions:
                    ids = await queries.ids(session, user_id)
                index = known.updated(revision, deletions, changed, ids)
        self._cache.put(user_id, index)
        return index

    async def rank(
        self,
        user_id: int,
        query: str,
        k: int,
        *,
        vector: np.ndarray | None = None,
        use_vectors: bool = True,
        use_text: bool = True,
        related: bool = True,
    ) -> list[int]:
        """The ids of the user's ``k`` most relevant memories for ``query``: nearest
        vectors and full-text matches (``related``: with the lexicon's words) fused by
        reciprocal rank, weighted by the question's language."""
        embedding: asyncio.Future[np.ndarray | None] | None = None
        if not use_vectors:
            vector = None
        elif vector is None:
            embedding = asyncio.ensure_future(self._vector(query))
        index = await self._index_while(embedding, user_id)
        return await self._ranked(index, query, k, embedding, vector, use_text, related)

    async def _index_while(
        self, embedding: asyncio.Future[np.ndarray | None] | None, user_id: int
    ) -> UserIndex:
        """The user's index, read while ``embedding`` runs (cancelled if the read fails)."""
        try:
            return await self.index(user_id)
        except BaseException:
            if embedding is not None:
                embedding.cancel()
            raise

    async def _ranked(
        self,
        index: UserIndex,
        query: str,
        k: int,
        embedding: asyncio.Future[np.ndarray | None] | None,
        vector: np.ndarray | None,
        use_text: bool,
        related: bool,
        min_similarity: float = 0.0,
    ) -> list[int]:
        by_text = index.matching(query, CANDIDATES, related=related) if use_text else None
        if embedding is not None:
            vector = await embedding
        by_vector = None
        if vector is not None and min_similarity > 0:
            # Injection: a memory must be close enough to the question, whichever ranking
            # found it; the full text of a Vietnamese question answers for itself (the
            # English model's cosines of Vietnamese say little).
            least = similarity_floor(query, min_similarity)
            by_vector, close = index.similar(vector, CANDIDATES, least)
            if by_text is not None and vietnamese_share(query) < 0.5:
                by_text = [i for i in by_text if i in close]
        elif vector is not None:
            by_vector = [i for i, _ in index.nearest(vector, CANDIDATES)]
        return hybrid(query, by_text, by_vector)[:k]

    async def search(self, user_id: int, query: str, k: int) -> list[MemoryView]:
        return await self.by_ids(user_id, await self.rank(user_id, query, k))

    async def closest(self, user_id: int, vector: np.ndarray) -> float:
        """The cosine of the user's memory nearest to ``vector`` (0 with none)."""
        nearest = (await self.index(user_id)).nearest(vector, 1)
        return nearest[0][1] if nearest else 0.0

    async def for_prompt(
        self,
        user_id: int,
        query: str,
        k: int,
        budget: int,
        vector: np.ndarray | None = None,
        min_similarity: float = 0.0,
    ) -> tuple[str, list[int]]:
        """The system message text for ``query`` (pinned memories first, then the ``k``
        most relevant) within ``budget`` tokens, and the ids it names. One database
        read (the user's revision) when their index is cached; the question is embedded
        meanwhile unless its ``vector`` is given. A memory that only its vector found
        needs ``min_similarity`` (an English question's floor, see ``similarity_floor``):
        an unrelated question gets few memories or none, not the ``k`` least unrelated."""
        embedding = None if vector is not None else asyncio.ensure_future(self._vector(query))
        index = await self._index_while(embedding, user_id)
        ranked = await self._ranked(index, query, k, embedding, vector, True, True, min_similarity)
        pinned = index.pinned[:MAX_PINNED]
        ids = pinned + [i for i in ranked if i not in set(pinned)]
        text, used = injection(index.text_of(ids), budget)
        self.mark_used(user_id, used)
        return text, used

    def mark_used(self, user_id: int, ids: list[int]) -> None:
        """Records ``last_used_at`` off the request path."""
        if not ids:
            return

        async def write() -> None:
            async with self._db.session() as session, session.begin():
                await queries.touch(session, user_id, ids, utcnow())

        task = asyncio.create_task(write())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def export(self, user_id: int) -> list[dict[str, Any]]:
        views, _ = await self.listing(user_id, 1_000_000, 0)
        return [v.as_dict() for v in views]

    async def import_(self, user_id: int, items: list[dict[str, Any]]) -> list[MemoryView]:
        """Adds each item (``text``, optional ``kind`` and ``pinned``) in one transaction;
        ids are new. At most ``MAX_IMPORT`` items per call."""
        if len(items) > MAX_IMPORT:
            raise invalid_request(
                f"At most {MAX_IMPORT} memories per import; send the rest in another call.",
                param="data",
            )
        rows = []
        for item in items:
            kind = str(item.get("kind") or "explicit")
            if kind not in KINDS:
                raise invalid_request(f"kind is one of {', '.join(KINDS)}.", param="kind")
            rows.append((_clean(str(item.get("text") or "")), kind, bool(item.get("pinned"))))
        vectors: list[np.ndarray] | None = None
        for start in range(0, len(rows), EMBED_BATCH):
            batch = await self._embedder.embed([r[0] for r in rows[start : start + EMBED_BATCH]])
            if batch is None:
                vectors = None
                break
            vectors = [*(vectors or []), *batch]
        async with self._db.session() as session, session.begin():
            revision = await queries.bump(session, user_id)
            added = [
                await queries.add(
                    session,
                    user_id=user_id,
                    text=text,
                    kind=kind,
                    embedding=to_blob(vectors[i]) if vectors else None,
                    pinned=pinned,
                    revision=revision,
                )
                for i, (text, kind, pinned) in enumerate(rows)
            ]
        return [view(row) for row in added]

    async def close(self) -> None:
        for task in list(self._tasks):
            await task


def vector_of(row: Memory) -> np.ndarray | None:
    return from_blob(row.embedding) if row.embedding else None

"""Long files in a chat: a file whose text is past the whole-file limit is cut into
chunks (:mod:`.chunking`), embedded by the embedding model, and only the chunks that
matter for the user's latest message go to the model (:mod:`.chunk_search`), in
document order, after the file's structure.

A stored file's chunks and vectors are kept in ``file_chunks`` (made on its first use,
deleted with it) and in a per-process cache; an inline file's are made for the request
and not kept. Without vectors (no embedding model, or it failed) the full-text half
alone ranks, and a stored file's chunks are not kept, so the next use embeds again."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import numpy as np
from sqlalchemy.exc import IntegrityError

from cong.billing.estimates import text_tokens
from cong.file_settings import FilesSettings
from cong.files.chunk_search import ChunkCache, ChunkSet
from cong.files.chunking import Chunk, chunk_text, structure
from cong.memory.embedder import Embedder
from cong.memory.vectors import to_blob
from cong.storage import files as queries
from cong.storage.database import Database
from cong.storage.file_tables import FileChunk

log = logging.getLogger("cong.files")
EMBED_BATCH = 64
GAP = "[…]"


@dataclass(frozen=True, slots=True)
class Budget:
    """Token limits for one request's files: whole up to ``whole``, else ``retrieved``
    tokens of chunks (both lowered for a model with a small known context)."""

    whole: int
    retrieved: int

    @classmethod
    def of(cls, settings: FilesSettings, context: int | None) -> Budget:
        if not context:
            return cls(settings.whole_max_tokens, settings.retrieved_tokens)
        return cls(
            min(settings.whole_max_tokens, context // 2),
            min(settings.retrieved_tokens, max(100, context // 3)),
        )


class Question:
    """The user's latest message, and its vector once asked for (one embedding per
    request, whatever the number of long files)."""

    def __init__(self, text: str, embedder: Embedder | None) -> None:
        self.text = text
        self._embedder = embedder
        self._vector: np.ndarray | None = None
        self._asked = False

    async def vector(self) -> np.ndarray | None:
        if not self._asked and self.text.strip() and self._embedder is not None:
            self._asked = True
            vectors = await self._embedder.embed([self.text])
            self._vector = vectors[0] if vectors else None
        return self._vector


class LongFiles:
    def __init__(self, db: Database, embedder: Embedder | None, settings: FilesSettings) -> None:
        self.db = db
        self.embedder = embedder
        self.settings = settings
        self.cache = ChunkCache()

    async def stored(self, file_id: str) -> ChunkSet | None:
        """A stored file's chunks, if it was chunked before."""
        found = self.cache.get(file_id)
        if found is not None:
            return found
        async with self.db.session() as session:
            rows = await queries.chunks(session, file_id)
        if not rows:
            return None
        found = ChunkSet.of([Chunk(r.heading, r.text) for r in rows], [r.embedding for r in rows])
        self.cache.put(file_id, found)
        return found

    async def _embed(self, chunks: list[Chunk]) -> list[bytes] | None:
        if self.embedder is None:
            return None
        blobs: list[bytes] = []
        for start in range(0, len(chunks), EMBED_BATCH):
            batch = [c.full for c in chunks[start : start + EMBED_BATCH]]
            vectors = await self.embedder.embed(batch)
            if vectors is None or len(vectors) != len(batch):
                return None
            blobs += [to_blob(v) for v in vectors]
        return blobs

    async def index(self, file_id: str | None, name: str, text: str) -> ChunkSet:
        """``text`` of the file ``name`` chunked and embedded; kept when the file is
        stored (``file_id``) and the vectors were made."""
        chunks = chunk_text(text, name, self.settings.chunk_tokens)
        blobs = await self._embed(chunks)
        found = ChunkSet.of(chunks, blobs)
        if file_id is not None and blobs is not None:
            rows = [
                FileChunk(file_id=file_id, seq=n, heading=c.heading, text=c.text, embedding=b)
                for n, (c, b) in enumerate(zip(chunks, blobs, strict=True))
            ]
            with contextlib.suppress(IntegrityError):  # another request stored them first
                async with self.db.session() as session, session.begin():
                    await queries.add_chunks(session, rows)
            self.cache.put(file_id, found)
        elif blobs is None:
            log.info("file chunks ranked by full text only (no vectors): %d chunks", len(chunks))
        return found

    async def excerpt(self, name: str, found: ChunkSet, question: Question, budget: int) -> str:
        """The text part for a long file: its name and structure, then the chunks most
        relevant to ``question`` within ``budget`` tokens, in document order."""
        chunks = found.chunks
        candidates = max(20, 2 * budget // max(1, self.settings.chunk_tokens))
        ranked = found.rank(question.text, await question.vector(), candidates)
        chosen: list[int] = []
        spent = 0
        # The best first; what room is left goes to the file's beginning.
        for index in dict.fromkeys([*ranked, *range(len(chunks))]):
            cost = text_tokens(chunks[index].full) + 1
            if spent + cost <= budget:
                chosen.append(index)
                spent += cost
        chosen.sort()
        total = sum(text_tokens(c.full) for c in chunks)
        how = (
            "the parts most relevant to the latest message, then the file's beginning as "
            "room allows"
            if ranked
            else "the file's beginning (no question to search with)"
        )
        lines = [
            f'<file name="{name}">',
            f"[A long file: about {total} tokens in {len(chunks)} parts. Structure: "
            f"{structure(chunks) or 'plain text'}. Shown, in document order: {how}; "
            f'"{GAP}" marks parts left out.]',
        ]
        previous = -1
        for index in chosen:
            if index != previous + 1:
                lines.append(GAP)
            lines.append(chunks[index].full)
            previous = index
        if previous != len(chunks) - 1:
            lines.append(GAP)
        lines.append("</file>")
        return "\n".join(lines)

    def forget(self, file_id: str) -> None:
        self.cache.forget(file_id)

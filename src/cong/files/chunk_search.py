"""Finding the chunks of a long file that matter for a question, with the memory's hybrid
retrieval (:func:`cong.memory.retrieval.hybrid`): the nearest chunk vectors
(:class:`cong.memory.vectors.VectorRows`) and the best full-text matches
(:class:`cong.memory.term_index.TermIndex`: BM25 over Vietnamese-aware terms, accents
folded, "ten toi" finds "tên tôi"), fused by reciprocal rank and weighted by the
question's language. The chunks of one file are searched in process."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cong.files.chunking import Chunk
from cong.memory.retrieval import hybrid
from cong.memory.term_index import TermIndex
from cong.memory.vectors import VectorRows


@dataclass(frozen=True)
class ChunkSet:
    """One file's chunks, searchable: their full-text index and (when they were
    embedded) their vectors."""

    chunks: list[Chunk]
    index: TermIndex
    vectors: VectorRows | None

    @classmethod
    def of(cls, chunks: list[Chunk], blobs: Sequence[bytes | None] | None) -> ChunkSet:
        vectors = None
        if blobs is not None and all(blobs):
            vectors = VectorRows(blobs)
        return cls(chunks, TermIndex([c.full for c in chunks]), vectors)

    def rank(self, query: str, query_vector: np.ndarray | None, candidates: int) -> list[int]:
        """Chunk indexes, most relevant first (none without a query)."""
        if not query.strip():
            return []
        by_text = self.index.best(query, candidates)
        by_vector = None
        if self.vectors is not None and query_vector is not None:
            by_vector = [i for i, _ in self.vectors.nearest(query_vector, candidates)]
        return hybrid(query, by_text, by_vector)


class ChunkCache:
    """The most recently used files' chunk sets (an LRU of ``capacity`` files)."""

    def __init__(self, capacity: int = 32) -> None:
        self._capacity = capacity
        self._files: OrderedDict[str, ChunkSet] = OrderedDict()

    def get(self, file_id: str) -> ChunkSet | None:
        found = self._files.get(file_id)
        if found is not None:
            self._files.move_to_end(file_id)
        return found

    def put(self, file_id: str, chunks: ChunkSet) -> None:
        self._files[file_id] = chunks
        self._files.move_to_end(file_id)
        while len(self._files) > self._capacity:
            self._files.popitem(last=False)

    def forget(self, file_id: str) -> None:
        self._files.pop(file_id, None)

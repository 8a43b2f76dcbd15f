"""Finding the chunks of a long file that matter for a question, with the memory's hybrid
retrieval (:func:`cong.memory.retrieval.hybrid`): the nearest chunk vectors
(:class:`cong.memory.vectors.UserVectors`) and the best full-text matches, fused by
reciprocal rank and weighted by the question's language. The chunks of one file are
searched in process: the full-text half is BM25 over their words, accents folded as the
memory's SQLite index folds them ("ten toi" finds "tên tôi")."""

from __future__ import annotations

import math
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cong.files.chunking import Chunk
from cong.memory.retrieval import WORD, hybrid, search_words
from cong.memory.vectors import UserVectors, build

K1, B = 1.2, 0.75
MAX_TERMS = 24


def fold(text: str) -> str:
    """Lower case without accents (``đ`` → ``d``)."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def words(text: str) -> list[str]:
    return WORD.findall(fold(text))


class TextIndex:
    """BM25 over the chunks' words (headings included)."""

    def __init__(self, texts: list[str]) -> None:
        self.postings: dict[str, list[tuple[int, int]]] = {}
        self.lengths: list[int] = []
        for index, text in enumerate(texts):
            counts = Counter(words(text))
            self.lengths.append(sum(counts.values()))
            for word, count in counts.items():
                self.postings.setdefault(word, []).append((index, count))
        self.average = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0

    def rank(self, query: str, k: int) -> list[int]:
        """Indexes of the ``k`` chunks that match ``query``'s words best."""
        terms = list(dict.fromkeys(words(search_words(query))))[:MAX_TERMS]
        scores: dict[int, float] = {}
        total = len(self.lengths)
        for term in terms:
            postings = self.postings.get(term)
            if not postings:
                continue
            idf = math.log(1 + (total - len(postings) + 0.5) / (len(postings) + 0.5))
            for index, count in postings:
                norm = K1 * (1 - B + B * self.lengths[index] / (self.average or 1))
                scores[index] = scores.get(index, 0.0) + idf * count * (K1 + 1) / (count + norm)
        return sorted(scores, key=lambda i: (-scores[i], i))[:k]


@dataclass(frozen=True)
class ChunkSet:
    """One file's chunks, searchable: their full-text index and (when they were
    embedded) their vectors."""

    chunks: list[Chunk]
    index: TextIndex
    vectors: UserVectors | None

    @classmethod
    def of(cls, chunks: list[Chunk], blobs: Sequence[bytes | None] | None) -> ChunkSet:
        vectors = None
        if blobs is not None and all(blobs):
            vectors = build(0, [(i, blob, False) for i, blob in enumerate(blobs)])
        return cls(chunks, TextIndex([c.full for c in chunks]), vectors)

    def rank(self, query: str, query_vector: np.ndarray | None, candidates: int) -> list[int]:
        """Chunk indexes, most relevant first (none without a query)."""
        if not query.strip():
            return []
        by_text = self.index.rank(query, candidates)
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

"""Full-text search of one user's memories, in process: BM25 over the terms of
``memory/words.py``, with the question's words widened by the Vietnamese lexicon.

The same code runs on SQLite and PostgreSQL (their own full-text engines fold accents,
split words and weigh them differently, or not at all). The postings of all terms are
two numpy arrays (rows, and BM25 weights computed once at build time) sorted by term, so a
question costs one slice addition per term it shares with the memories.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cong.memory.vi_lexicon import LEXICON
from cong.memory.words import terms, tokens

K1 = 1.2
B = 0.75
# A lexicon word counts as much as the question's own (tuned on the even-numbered
# questions of bench/memory_retrieval.py: 1.0 over 0.4 and 0.7).
RELATED_WEIGHT = 1.0


class TermIndex:
    def __init__(self, texts: Sequence[str]) -> None:
        self.size = len(texts)
        self._ids: dict[str, int] = {}
        found = [terms(text) for text in texts]
        lengths = np.fromiter((len(t) for t in found), dtype=np.int64, count=self.size)
        number = self._ids.setdefault
        term_of = np.fromiter(
            (number(term, len(self._ids)) for words in found for term in words),
            dtype=np.int64,
            count=int(lengths.sum()),
        )
        row_of = np.repeat(np.arange(self.size, dtype=np.int64), lengths)
        # One posting per (term, row), sorted by term: its count is the term frequency.
        pairs, counts = np.unique(term_of * max(self.size, 1) + row_of, return_counts=True)
        term_of, self._rows = np.divmod(pairs, max(self.size, 1))
        frequency = np.bincount(term_of, minlength=len(self._ids))
        self._starts = np.concatenate(([0], np.cumsum(frequency))).astype(np.int64)
        idf = np.log1p((self.size - frequency + 0.5) / (frequency + 0.5))
        average = max(float(lengths.mean()) if self.size else 1.0, 1e-6)
        norm = K1 * (1 - B + B * lengths[self._rows] / average)
        weights = idf[term_of] * counts * (K1 + 1) / (counts + norm)
        self._weights = weights.astype(np.float32)

    def scores(self, query: str, *, related: bool = True) -> np.ndarray:
        """Each row's BM25 score for ``query`` (0: no shared term)."""
        scores = np.zeros(self.size, dtype=np.float32)
        own = set(terms(query))
        wider = LEXICON.expansions(tokens(query)) - own if related else set()
        for weight, group in ((1.0, own), (RELATED_WEIGHT, wider)):
            for term in group:
                found = self._ids.get(term)
                if found is not None:
                    start, end = self._starts[found], self._starts[found + 1]
                    scores[self._rows[start:end]] += weight * self._weights[start:end]
        return scores

    def best(self, query: str, k: int, *, related: bool = True) -> list[int]:
        """The rows of the ``k`` best matches, best first (only rows that match)."""
        if self.size == 0:
            return []
        scores = self.scores(query, related=related)
        k = min(k, self.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((-top, -scores[top]))]  # ties: the newer first
        return [int(r) for r in top if scores[r] > 0]

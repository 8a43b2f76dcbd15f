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
    """BM25 postings of a list of texts (rows). ``merged`` makes the index of a changed
    list from this one without reading the unchanged texts again."""

    def __init__(self, texts: Sequence[str], vocabulary: dict[str, int] | None = None) -> None:
        self._ids = vocabulary if vocabulary is not None else {}
        term_of, row_of, lengths = self._postings(texts, 0)
        # One posting per (term, row): its count is the term's frequency in the row.
        size = max(len(texts), 1)
        pairs, counts = np.unique(term_of * size + row_of, return_counts=True)
        term_of, row_of = np.divmod(pairs, size)
        self._finish(term_of, row_of, counts.astype(np.float32), lengths)

    def _postings(self, texts: Sequence[str], first_row: int) -> tuple[np.ndarray, ...]:
        """(term id, row) of every term occurrence of ``texts``, and their lengths."""
        found = [terms(text) for text in texts]
        lengths = np.fromiter((len(t) for t in found), dtype=np.int64, count=len(found))
        number = self._ids.setdefault
        term_of = np.fromiter(
            (number(term, len(self._ids)) for words in found for term in words),
            dtype=np.int64,
            count=int(lengths.sum()),
        )
        rows = np.arange(first_row, first_row + len(found), dtype=np.int64)
        return term_of, np.repeat(rows, lengths), lengths

    def _finish(
        self, term_of: np.ndarray, row_of: np.ndarray, counts: np.ndarray, lengths: np.ndarray
    ) -> None:
        order = np.argsort(term_of, kind="stable")
        self._terms, self._rows, self._counts = term_of[order], row_of[order], counts[order]
        self._lengths = lengths
        self.size = len(lengths)
        frequency = np.bincount(self._terms, minlength=len(self._ids))
        self._starts = np.concatenate(([0], np.cumsum(frequency))).astype(np.int64)
        idf = np.log1p((self.size - frequency + 0.5) / (frequency + 0.5))
        average = max(float(lengths.mean()) if self.size else 1.0, 1e-6)
        norm = K1 * (1 - B + B * lengths[self._rows] / average)
        weights = idf[self._terms] * self._counts * (K1 + 1) / (self._counts + norm)
        self._weights = weights.astype(np.float32)

    def merged(self, kept: np.ndarray, added: Sequence[str], order: np.ndarray) -> TermIndex:
        """The index of the rows ``kept`` (old row numbers) followed by ``added`` texts,
        then put in ``order`` (as ``np.argsort`` of the merged ids gives it)."""
        new_row = np.full(self.size, -1, dtype=np.int64)
        new_row[kept] = np.arange(len(kept), dtype=np.int64)
        still = new_row[self._rows] >= 0
        made = TermIndex.__new__(TermIndex)
        made._ids = self._ids
        extra_terms, extra_rows, extra_lengths = made._postings(added, len(kept))
        size = max(len(kept) + len(added), 1)
        pairs, extra_counts = np.unique(extra_terms * size + extra_rows, return_counts=True)
        extra_terms, extra_rows = np.divmod(pairs, size)
        place = np.empty(len(order), dtype=np.int64)
        place[order] = np.arange(len(order), dtype=np.int64)  # merged position -> final row
        lengths = np.concatenate((self._lengths[kept], extra_lengths))[order]
        made._finish(
            np.concatenate((self._terms[still], extra_terms)),
            place[np.concatenate((new_row[self._rows[still]], extra_rows))],
            np.concatenate((self._counts[still], extra_counts.astype(np.float32))),
            lengths,
        )
        return made

    def scores(self, query: str, *, related: bool = True) -> np.ndarray:
        """Each row's BM25 score for ``query`` (0: no shared term)."""
        scores = np.zeros(self.size, dtype=np.float32)
        own = set(terms(query, question=True))
        wider = LEXICON.expansions(tokens(query)) - own if related else set()
        for weight, group in ((1.0, own), (RELATED_WEIGHT, wider)):
            for term in group:
                found = self._ids.get(term)
                # (A newer index sharing the vocabulary may have added terms.)
                if found is not None and found + 1 < len(self._starts):
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

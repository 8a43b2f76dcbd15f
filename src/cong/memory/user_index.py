"""What a process keeps of a user's memories to rank them without a database query: ids,
texts, pinned flags, vectors and the full-text index, with the revision they were read
at. A request reads the revision (one indexed row) and rebuilds only when it moved."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from cong.memory.term_index import TermIndex
from cong.memory.vectors import VectorRows

# (id, text, float32 vector blob or None, pinned), in id order.
Row = tuple[int, str, bytes | None, bool]


@dataclass(frozen=True)
class UserIndex:
    revision: int
    ids: np.ndarray  # int64, one per row
    texts: list[str]
    pinned: list[int]  # ids, newest first
    vectors: VectorRows
    words: TermIndex

    @classmethod
    def build(cls, revision: int, rows: list[Row]) -> UserIndex:
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        texts = [r[1] for r in rows]
        pinned = [r[0] for r in reversed(rows) if r[3]]
        return cls(revision, ids, texts, pinned, VectorRows([r[2] for r in rows]), TermIndex(texts))

    def __len__(self) -> int:
        return len(self.texts)

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(memory id, cosine) of the ``k`` closest vectors, best first."""
        return [(int(self.ids[row]), cosine) for row, cosine in self.vectors.nearest(query, k)]

    def matching(self, query: str, k: int, *, related: bool = True) -> list[int]:
        """Ids of the ``k`` best full-text matches for ``query``, best first."""
        return [int(self.ids[row]) for row in self.words.best(query, k, related=related)]

    def text_of(self, ids: list[int]) -> list[tuple[int, str]]:
        """(id, text) of those of ``ids`` the user has, in the order given."""
        rows = np.searchsorted(self.ids, ids)
        return [
            (memory_id, self.texts[row])
            for memory_id, row in zip(ids, rows.tolist(), strict=True)
            if row < len(self.ids) and self.ids[row] == memory_id
        ]


class IndexCache:
    """The most recently used users' indexes, at most ``max_rows`` memories in all (the
    newest user's index is kept whatever its size)."""

    def __init__(self, max_rows: int = 100_000) -> None:
        self._max_rows = max_rows
        self._rows = 0
        self._users: OrderedDict[int, UserIndex] = OrderedDict()

    def get(self, user_id: int, revision: int) -> UserIndex | None:
        found = self._users.get(user_id)
        if found is None or found.revision != revision:
            return None
        self._users.move_to_end(user_id)
        return found

    def put(self, user_id: int, index: UserIndex) -> None:
        self.forget(user_id)
        self._users[user_id] = index
        self._rows += len(index)
        while self._rows > self._max_rows and len(self._users) > 1:
            _, dropped = self._users.popitem(last=False)
            self._rows -= len(dropped)

    def forget(self, user_id: int) -> None:
        dropped = self._users.pop(user_id, None)
        if dropped is not None:
            self._rows -= len(dropped)

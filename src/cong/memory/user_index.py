"""What a process keeps of a user's memories to rank them without a database query: ids,
texts, pinned flags, vectors and the full-text index, with the revision they were read
at. A request reads the revision (one indexed row); when it moved, only the rows written
since are read and merged in (and the ids, if something was deleted)."""

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
    deletions: int  # the user's count of deletes when read (a change: reread the ids)
    ids: np.ndarray  # int64, one per row, ascending
    texts: list[str]
    pins: np.ndarray  # bool, one per row
    vectors: VectorRows
    words: TermIndex

    @classmethod
    def build(cls, revision: int, deletions: int, rows: list[Row]) -> UserIndex:
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        pins = np.fromiter((r[3] for r in rows), dtype=np.bool_, count=len(rows))
        texts = [r[1] for r in rows]
        vectors = VectorRows([r[2] for r in rows])
        return cls(revision, deletions, ids, texts, pins, vectors, TermIndex(texts))

    def updated(
        self, revision: int, deletions: int, changed: list[Row], ids: list[int] | None
    ) -> UserIndex:
        """This index with the ``changed`` rows (added or edited since it was read) and
        without the rows that are no longer among ``ids`` (None: nothing was deleted).
        Unchanged rows are not read or tokenised again."""
        changed_ids = np.fromiter((r[0] for r in changed), dtype=np.int64, count=len(changed))
        keep = ~np.isin(self.ids, changed_ids)
        if ids is not None:
            keep &= np.isin(self.ids, np.asarray(ids, dtype=np.int64))
        kept = np.flatnonzero(keep)
        merged_ids = np.concatenate((self.ids[kept], changed_ids))
        order = np.argsort(merged_ids, kind="stable")
        texts = [self.texts[i] for i in kept.tolist()] + [r[1] for r in changed]
        pins = np.concatenate(
            (self.pins[kept], np.fromiter((r[3] for r in changed), np.bool_, len(changed)))
        )
        added = [r[1] for r in changed]
        return UserIndex(
            revision,
            deletions,
            merged_ids[order],
            [texts[i] for i in order.tolist()],
            pins[order],
            self.vectors.merged(len(self.ids), kept, [r[2] for r in changed], order),
            self.words.merged(kept, added, order),
        )

    @property
    def pinned(self) -> list[int]:
        """Ids of the pinned memories, newest first."""
        return [int(i) for i in self.ids[self.pins][::-1]]

    def __len__(self) -> int:
        return len(self.texts)

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(memory id, cosine) of the ``k`` closest vectors, best first."""
        return [(int(self.ids[row]), cosine) for row, cosine in self.vectors.nearest(query, k)]

    def similar(self, query: np.ndarray, k: int, least: float) -> tuple[list[int], set[int]]:
        """The ids of the ``k`` closest vectors whose cosine reaches ``least`` (best
        first), and the ids of every memory that reaches it."""
        found = [int(self.ids[row]) for row, _ in self.vectors.nearest(query, k, least)]
        return found[:k], set(found)

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

    def latest(self, user_id: int) -> UserIndex | None:
        """The user's index whatever its revision (to update it)."""
        return self._users.get(user_id)

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

"""Memory vectors: float32 blobs in the memories table, searched in process with numpy.

A process keeps each user's matrix (rows normalised) with the revision it was read at;
a request reads the revision (one indexed row) and reloads the matrix only when it moved.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DTYPE = np.dtype("<f4")


def to_blob(vector: Sequence[float] | np.ndarray) -> bytes:
    array = np.asarray(vector, dtype=DTYPE)
    norm = float(np.linalg.norm(array))
    return (array / norm if norm > 0 else array).astype(DTYPE).tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=DTYPE)


def normalised(vector: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


@dataclass(frozen=True)
class UserVectors:
    revision: int
    ids: np.ndarray  # int64, one per row
    matrix: np.ndarray  # float32, (rows, dims), rows normalised

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(memory id, cosine) of the ``k`` closest rows, best first."""
        if len(self.ids) == 0 or query.shape[0] != self.matrix.shape[1]:
            return []
        scores = self.matrix @ query
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(self.ids[i]), float(scores[i])) for i in top]


def build(revision: int, rows: list[tuple[int, bytes | None, bool]]) -> UserVectors:
    kept = [(i, blob) for i, blob, _ in rows if blob]
    if not kept:
        return UserVectors(revision, np.zeros(0, np.int64), np.zeros((0, 0), np.float32))
    dims = len(kept[0][1]) // DTYPE.itemsize
    kept = [(i, blob) for i, blob in kept if len(blob) == dims * DTYPE.itemsize]
    ids = np.fromiter((i for i, _ in kept), dtype=np.int64, count=len(kept))
    matrix = np.frombuffer(b"".join(blob for _, blob in kept), dtype=DTYPE).reshape(-1, dims)
    return UserVectors(revision, ids, matrix)


class VectorCache:
    """The most recently used users' matrices (an LRU of ``capacity`` users)."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._users: OrderedDict[int, UserVectors] = OrderedDict()

    def get(self, user_id: int, revision: int) -> UserVectors | None:
        found = self._users.get(user_id)
        if found is None or found.revision != revision:
            return None
        self._users.move_to_end(user_id)
        return found

    def put(self, user_id: int, vectors: UserVectors) -> None:
        self._users[user_id] = vectors
        self._users.move_to_end(user_id)
        while len(self._users) > self._capacity:
            self._users.popitem(last=False)

    def forget(self, user_id: int) -> None:
        self._users.pop(user_id, None)

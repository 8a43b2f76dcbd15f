"""Memory vectors: float32 blobs in the memories table, searched in process with numpy."""

from __future__ import annotations

from collections.abc import Sequence

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


class VectorRows:
    """The rows that have a vector (of the most common length) as one normalised matrix:
    ``rows[i]`` is the row of ``matrix[i]``."""

    def __init__(self, blobs: Sequence[bytes | None], size: int | None = None) -> None:
        if size is None:
            sizes = [len(b) for b in blobs if b]
            size = max(set(sizes), key=sizes.count) if sizes else 0
        rows = [i for i, b in enumerate(blobs) if b and len(b) == size]
        self.rows = np.asarray(rows, dtype=np.int64)
        joined = b"".join(blobs[i] or b"" for i in rows)
        self.matrix = np.frombuffer(joined, dtype=DTYPE).reshape(len(rows), size // DTYPE.itemsize)

    def merged(
        self, count: int, kept: np.ndarray, added: Sequence[bytes | None], order: np.ndarray
    ) -> VectorRows:
        """The vectors of the rows ``kept`` (of ``count`` old rows) followed by ``added``
        blobs, put in ``order`` (see ``TermIndex.merged``)."""
        size = self.matrix.shape[1] * DTYPE.itemsize if len(self.rows) else None
        extra = VectorRows(added, size)
        if size is None:  # nothing kept had a vector: the added ones decide the length
            size = extra.matrix.shape[1] * DTYPE.itemsize
        in_matrix = np.full(count, -1, dtype=np.int64)
        in_matrix[self.rows] = np.arange(len(self.rows), dtype=np.int64)
        extra_in = np.full(len(added), -1, dtype=np.int64)
        extra_in[extra.rows] = np.arange(len(extra.rows), dtype=np.int64) + len(self.rows)
        source = np.concatenate((in_matrix[kept], extra_in))[order]  # per final row
        made = VectorRows.__new__(VectorRows)
        made.rows = np.flatnonzero(source >= 0)
        if len(extra.rows) == 0:
            made.matrix = self.matrix[source[made.rows]]
        else:
            both = np.concatenate((self.matrix, extra.matrix)) if len(self.rows) else extra.matrix
            made.matrix = both[source[made.rows]]
        return made

    def nearest(
        self, query: np.ndarray, k: int, least: float | None = None
    ) -> list[tuple[int, float]]:
        """(row, cosine) of the ``k`` closest rows, best first; with ``least``, those of
        the closest ``k`` that reach it followed by every other row that does (unordered)."""
        if len(self.rows) == 0 or query.shape[0] != self.matrix.shape[1]:
            return []
        scores = self.matrix @ query.astype(np.float32, copy=False)
        if least is not None:
            above = np.flatnonzero(scores >= least)
            best = above[np.argsort(-scores[above], kind="stable")[:k]]
            rest = np.setdiff1d(above, best, assume_unique=True)
            chosen = np.concatenate((best, rest))
            return [(int(self.rows[i]), float(scores[i])) for i in chosen]
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.rows[i]), float(scores[i])) for i in top]

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
    """The rows that have a vector (of the most common length) as one normalised matrix."""

    def __init__(self, blobs: Sequence[bytes | None]) -> None:
        sizes = [len(b) for b in blobs if b]
        size = max(set(sizes), key=sizes.count) if sizes else 0
        rows = [i for i, b in enumerate(blobs) if b and len(b) == size]
        self.rows = np.asarray(rows, dtype=np.int64)
        dims = size // DTYPE.itemsize
        joined = b"".join(blobs[i] or b"" for i in rows)
        self.matrix = np.frombuffer(joined, dtype=DTYPE).reshape(len(rows), dims)

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, cosine) of the ``k`` closest rows, best first."""
        if len(self.rows) == 0 or query.shape[0] != self.matrix.shape[1]:
            return []
        scores = self.matrix @ query.astype(np.float32, copy=False)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.rows[i]), float(scores[i])) for i in top]

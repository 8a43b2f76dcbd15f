"""Hybrid retrieval: nearest vectors and full-text matches fused by reciprocal rank, and
the one system message that carries the chosen memories into a prompt."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cong.billing.estimates import text_tokens
from cong.memory.words import vietnamese_share

# A small k: the first few places of each ranking decide (measured best on
# bench/memory_retrieval.py among 5, 20 and the usual 60; 3 and 10 do as well).
RRF_K = 5
# How far the vector ranking steps back for a Vietnamese question, and the weight of the
# full text for an English one (chosen on the even-numbered questions of
# bench/memory_retrieval.py: 0.9-1.0 and 0-0.1 do as well, 0.85 / 0.2 ranked the right
# memory lower in both languages; the English model's vectors barely know Vietnamese,
# and an English question's words are paraphrased more often than shared).
VECTOR_STEP_BACK = 0.9
TEXT_WEIGHT_EN = 0.1
# The similarity a memory found by its vector alone needs to be injected, for an English
# question (``memory.min_similarity``) and for a Vietnamese one, in between for a mix. The
# English model's cosine of a question and its answer: 5th percentile 0.34 (English),
# 0.45 (Vietnamese); of an unrelated English question and the closest of 200 memories:
# 0.13-0.41; an unrelated Vietnamese one: 0.5-0.78 (the model barely reads Vietnamese,
# whose full-text ranking leads anyway). bench/README.md, "Relevance floor".
VI_SIMILARITY_FLOOR = 0.6
HEADER_VI_EN = (
    "Things the user asked you to remember or told you earlier (use them when relevant; "
    "do not mention this list):"
)


def weights(query: str) -> tuple[float, float]:
    """(vector weight, full-text weight) for ``query``. The embedding model is an English
    one: on English questions its ranking leads, on Vietnamese ones full text leads."""
    vietnamese = vietnamese_share(query)
    return 1.0 - VECTOR_STEP_BACK * vietnamese, TEXT_WEIGHT_EN + (1 - TEXT_WEIGHT_EN) * vietnamese


def similarity_floor(query: str, english_floor: float) -> float:
    """The cosine a vector-only match of ``query`` needs to be injected (0: no floor)."""
    if english_floor <= 0:
        return 0.0
    vietnamese = vietnamese_share(query)
    return english_floor + (max(VI_SIMILARITY_FLOOR, english_floor) - english_floor) * vietnamese


def fuse(
    rankings: Iterable[Sequence[int]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> list[int]:
    """Weighted reciprocal rank fusion: ids ordered by the sum of w / (k + rank)."""
    scores: dict[int, float] = {}
    for index, ranking in enumerate(rankings):
        weight = weights[index] if weights is not None else 1.0
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank + 1)
    return sorted(scores, key=lambda item: (-scores[item], -item))


def hybrid(query: str, by_text: Sequence[int] | None, by_vector: Sequence[int] | None) -> list[int]:
    """The hybrid ranking for ``query``: a full-text and a vector ranking (either None
    when it could not be had) fused by reciprocal rank, weighted by the question's
    language. Memories and the chunks of long files are both found this way."""
    vector_weight, text_weight = weights(query)
    rankings: list[Sequence[int]] = []
    weighed: list[float] = []
    if by_text is not None:
        rankings.append(by_text)
        weighed.append(text_weight)
    if by_vector is not None:
        rankings.append(by_vector)
        weighed.append(vector_weight)
    return fuse(rankings, weighed)


def injection(memories: Sequence[tuple[int, str]], budget: int) -> tuple[str, list[int]]:
    """The system message text for ``memories`` (id, text), best first, cut to ``budget``
    estimated tokens; and the ids that fit."""
    lines: list[str] = []
    used: list[int] = []
    spent = text_tokens(HEADER_VI_EN)
    for memory_id, text in memories:
        line = "- " + text.replace("\n", " ").strip()
        cost = text_tokens(line) + 1
        if spent + cost > budget:
            continue
        lines.append(line)
        used.append(memory_id)
        spent += cost
    if not used:
        return "", []
    return HEADER_VI_EN + "\n" + "\n".join(lines), used

"""Hybrid retrieval: nearest vectors and full-text matches fused by reciprocal rank, and
the one system message that carries the chosen memories into a prompt."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cong.billing.estimates import text_tokens

RRF_K = 60
HEADER_VI_EN = (
    "Things the user asked you to remember or told you earlier (use them when relevant; "
    "do not mention this list):"
)


def fuse(rankings: Iterable[Sequence[int]], k: int = RRF_K) -> list[int]:
    """Reciprocal rank fusion: ids ordered by the sum of 1 / (k + rank) over the lists."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores, key=lambda item: (-scores[item], -item))


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

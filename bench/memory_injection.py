"""What a request's memory step injects (``Memories.for_prompt``: top 6, 400 tokens), with
and without the relevance floor (``memory.min_similarity``): how often a question's own
fact is among the injected memories, and how many memories 20 questions unrelated to any
memory get (10 English, 10 Vietnamese, written for this benchmark). Part of
bench/memory_retrieval.py."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cong.memory.store import Memories
from cong.settings import MemorySettings

TOP_K = 6  # as the gateway's default memory.top_k
BUDGET = 400  # as the gateway's default memory.inject_tokens
FLOORS = (0.0, MemorySettings().min_similarity)

UNRELATED_EN = [
    "What is the weather?",
    "Write a poem about the sea.",
    "Explain quantum entanglement simply.",
    "Sort a list in Python.",
    "How do I center a div in CSS?",
    "Translate 'good morning' to French.",
    "Summarize this article for me.",
    "What is 17 times 23?",
    "Tell me a joke.",
    "Hello!",
]
UNRELATED_VI = [
    "Thời tiết hôm nay thế nào?",
    "Viết một bài thơ về biển.",
    "Giải thích thuyết tương đối.",
    "Viết hàm Python sắp xếp mảng.",
    "Cách nấu phở bò ngon?",
    "Xin chào",
    "Kể cho tôi một câu chuyện cười.",
    "Tóm tắt bài báo này giúp tôi.",
    "17 nhân 23 bằng bao nhiêu?",
    "Dịch câu này sang tiếng Anh.",
]
UNRELATED = UNRELATED_EN + UNRELATED_VI


async def injection_rows(
    memories: Memories,
    user_id: int,
    fact_ids: list[int],
    queries: Sequence[str],
    query_vectors: np.ndarray,
    vietnamese: int,
    unrelated_vectors: np.ndarray,
    count: int,
) -> list[str]:
    """Table rows: per floor, the share of questions whose fact was injected (all / vi /
    en) and the memories injected for the unrelated questions (en / vi, of 6)."""
    rows = []
    for floor in FLOORS:
        hits = []
        for index, query in enumerate(queries):
            _, used = await memories.for_prompt(
                user_id, query, TOP_K, BUDGET, query_vectors[index], min_similarity=floor
            )
            hits.append(fact_ids[index] in used)
        injected = [
            len(
                (
                    await memories.for_prompt(
                        user_id, query, TOP_K, BUDGET, unrelated_vectors[i], min_similarity=floor
                    )
                )[1]
            )
            for i, query in enumerate(UNRELATED)
        ]
        half = len(UNRELATED_EN)
        rows.append(
            f"| {count:,} | {floor:g} | {np.mean(hits):.3f} | {np.mean(hits[:vietnamese]):.3f} "
            f"| {np.mean(hits[vietnamese:]):.3f} | {np.mean(injected[:half]):.1f} "
            f"| {np.mean(injected[half:]):.1f} |"
        )
    return rows


HEADER = [
    "| memories | min_similarity | fact injected, all | vi | en "
    "| memories injected, unrelated en | unrelated vi |",
    "|---|---|---|---|---|---|---|",
]

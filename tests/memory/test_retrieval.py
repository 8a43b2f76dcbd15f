"""Retrieval: Vietnamese-aware full text (accents folded, syllable pairs, regional
variants and everyday synonyms from the lexicon) fused with the vectors, weighted by the
question's language; the same on SQLite and PostgreSQL (it runs in process)."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from cong.memory.retrieval import fuse, injection, weights
from cong.memory.term_index import TermIndex
from cong.memory.user_index import UserIndex
from cong.memory.vectors import to_blob
from tests.fakes.openai_upstream import Recorder
from tests.memory.helpers import ask, key_with_mode, memories_used, seen_upstream
from tests.support.gateway import RunningGateway, api

MEMORIES = [
    "Mẹ tôi sống ở Cần Thơ.",
    "Tôi đã phẫu thuật ruột thừa năm 2018.",
    "Tôi dùng máy tính xách tay Dell để làm việc.",
    "Tôi thích ăn bánh mì nướng.",
    "Đồng nghiệp Lan thích đọc sách.",
    "I deploy our services on Kubernetes.",
]


def _best(index: TermIndex, question: str, related: bool = True) -> str | None:
    rows = index.best(question, 3, related=related)
    return MEMORIES[rows[0]] if rows else None


def test_full_text_bridges_accents_dialects_and_synonyms() -> None:
    index = TermIndex(MEMORIES)
    # Typed without accents, Vietnamese still finds the accented memory.
    assert _best(index, "me toi song o dau") == MEMORIES[0]
    # Southern "má" for "mẹ", "mổ" for "phẫu thuật", "laptop" for "máy tính xách tay".
    assert _best(index, "Má tôi ở tỉnh nào?") == MEMORIES[0]
    assert _best(index, "Tôi từng mổ gì chưa?") == MEMORIES[1]
    assert _best(index, "Laptop của tôi hãng nào?") == MEMORIES[2]
    # Without the lexicon none of these share a word with their memory.
    assert _best(index, "Tôi từng mổ gì chưa?", related=False) is None
    # Question words and pronouns match nothing on their own.
    assert index.best("Tôi là gì?", 3) == []
    # A syllable pair ("bánh mì") ranks the memory with the word above single syllables.
    assert _best(index, "bánh mì") == MEMORIES[3]
    assert _best(index, "deploying service") == MEMORIES[5]  # English stems


def test_words_that_only_ask_match_nothing_but_mean_something_in_a_memory() -> None:
    memories = [
        "Tôi hay bị mất ngủ khi căng thẳng.",
        "Tôi nghỉ việc vì sếp khó tính.",
        "Tôi bay vào Sài Gòn vào thứ sáu.",
    ]
    index = TermIndex(memories)
    # "khi nào" (when), "vì sao" (why), "bao lâu" (how long) only ask.
    assert index.best("Khi nào? Vì sao? Bao lâu?", 3) == []
    assert index.best("khi nao, vi sao", 3) == []  # typed without accents too
    # The question's topic decides, not the memory that happens to say "khi".
    assert index.best("Khi nào tôi bay vào Sài Gòn?", 3)[0] == 2
    # In a memory (or a question not asking with them) the words still count.
    assert index.best("mất ngủ khi nào?", 3)[0] == 0
    assert index.best("Tôi nghỉ việc vì ai?", 3)[0] == 1


def test_an_index_brought_up_to_date_ranks_like_one_built_afresh() -> None:
    rng = np.random.default_rng(5)
    vectors = [rng.normal(size=8).astype(np.float32) for _ in MEMORIES]
    rows = [
        (i + 1, t, to_blob(v), False)
        for i, (t, v) in enumerate(zip(MEMORIES, vectors, strict=True))
    ]
    rows[2] = (3, rows[2][1], None, False)  # a memory stored without a vector
    old = UserIndex.build(1, 0, rows[:4])
    # Since then: memory 2 edited (and pinned), memory 4 deleted, 5 and 6 added.
    edited = (2, "Tôi nuôi một con heo.", to_blob(vectors[1]), True)
    changed = [edited, rows[4], rows[5]]
    updated = old.updated(2, 1, changed, ids=[1, 2, 3, 5, 6])
    fresh = UserIndex.build(2, 1, [rows[0], edited, rows[2], rows[4], rows[5]])
    assert updated.ids.tolist() == fresh.ids.tolist() == [1, 2, 3, 5, 6]
    assert updated.texts == fresh.texts and updated.pinned == fresh.pinned == [2]
    for question in ("con lợn", "Má tôi ở đâu?", "Kubernetes deploy", "đọc sách", "bánh"):
        assert updated.matching(question, 5) == fresh.matching(question, 5)
        assert np.allclose(updated.words.scores(question), fresh.words.scores(question))
    for vector in vectors:
        assert updated.nearest(vector, 5) == fresh.nearest(vector, 5)
    assert updated.text_of([6, 4, 2]) == [(6, MEMORIES[5]), (2, "Tôi nuôi một con heo.")]


def test_vietnamese_questions_lean_on_full_text_english_on_vectors() -> None:
    by_vector, by_text = weights("Tên tôi là gì?")
    assert by_text > by_vector
    by_vector, by_text = weights("ten toi la gi")  # unaccented Vietnamese is Vietnamese
    assert by_text > by_vector
    # Typed without accents, with one common syllable ("toi") among words that could be
    # Vietnamese or English ("may", "be") and none that is only English.
    by_vector, by_text = weights("Thang be nha toi hoc lop may?")
    assert by_text > by_vector
    by_vector, by_text = weights("Which class is my boy in?")  # "in", "my": English
    assert by_vector > by_text
    by_vector, by_text = weights("What is my name?")
    assert by_vector > by_text
    vectors, text = [1, 2, 3], [3, 2, 1]
    assert fuse([text, vectors], [0.2, 1.0])[0] == 1
    assert fuse([text, vectors], [1.0, 0.3])[0] == 3


def test_the_budget_is_kept() -> None:
    text, used = injection([(1, "a" * 30), (2, "b" * 3000), (3, "c")], budget=60)
    assert used == [1, 3] and "b" * 10 not in text


def test_a_southern_question_gets_the_northern_memory_injected(
    memory_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw, recorder = memory_gateway, fake_openai[1]
    token = key_with_mode(gw, "hoa", "full")
    ids = {}
    for text in MEMORIES:
        added = api(gw, "POST", "/api/memories", token, json={"text": text})
        ids[text] = added.json()["id"]
    found = api(gw, "GET", "/api/memories", token, params={"q": "ma toi o tinh nao"}).json()
    assert found["data"][0]["id"] == ids[MEMORIES[0]]

    answer = httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {token}"},
        json={"model": "fake-model", "messages": [{"role": "user", "content": "r1 Má tôi ở đâu?"}]},
        timeout=30,
    )
    used = [int(i) for i in answer.headers["x-memories-used"].split(",")]
    assert used[0] == ids[MEMORIES[0]]
    (system,) = [m for m in seen_upstream(recorder, "r1 Má")["messages"] if m["role"] == "system"]
    assert MEMORIES[0] in system["content"]

    # An edit is searched at once (the cached index follows the user's revision).
    mid = ids[MEMORIES[1]]
    api(gw, "PATCH", f"/api/memories/{mid}", token, json={"text": "Tôi nuôi một con heo."})
    found = api(gw, "GET", "/api/memories", token, params={"q": "con lợn"}).json()
    assert found["data"][0]["id"] == mid
    found = api(gw, "GET", "/api/memories", token, params={"q": "phẫu thuật"}).json()
    assert mid not in [m["id"] for m in found["data"]][:1]


def _used(gw: RunningGateway, token: str, text: str) -> list[int]:
    return memories_used(ask(gw, token, text))


def test_an_unrelated_question_gets_no_memories(memory_gateway: RunningGateway) -> None:
    """``memory.min_similarity``: an English question's memories must be close enough to
    it (the fake embeddings are bags of words: no shared word, cosine 0), whether full
    text or the vectors found them; the top_k least unrelated are not injected."""
    gw = memory_gateway
    token = key_with_mode(gw, "floor", "full")
    ids = [
        api(gw, "POST", "/api/memories", token, json={"text": text}).json()["id"]
        for text in ("I deploy our services on Kubernetes.", "My cat is called Biscuit.")
    ]
    assert _used(gw, token, "Tell me a joke please") == []
    assert _used(gw, token, "Where do I deploy services?")[:1] == [ids[0]]
    assert ids[1] in _used(gw, token, "What is my cat called?")


@pytest.mark.memory_settings(min_similarity=0)
def test_without_the_floor_the_closest_are_injected(memory_gateway: RunningGateway) -> None:
    gw = memory_gateway
    token = key_with_mode(gw, "nofloor", "full")
    api(gw, "POST", "/api/memories", token, json={"text": "I deploy on Kubernetes."})
    assert len(_used(gw, token, "Tell me a joke please")) == 1

"""Fusion of the two rankings: weighted by the question's language."""

from __future__ import annotations

from cong.memory.retrieval import fuse, injection, search_words, weights


def test_vietnamese_questions_lean_on_full_text_english_on_vectors() -> None:
    by_vector, by_text = weights("Tên tôi là gì?")
    assert by_text > by_vector
    by_vector, by_text = weights("What is my name?")
    assert by_vector > by_text
    vectors, text = [1, 2, 3], [3, 2, 1]
    assert fuse([text, vectors], [0.2, 1.0])[0] == 1
    assert fuse([text, vectors], [1.0, 0.3])[0] == 3


def test_question_words_are_not_searched_and_the_budget_is_kept() -> None:
    assert search_words("Tôi thích ăn gì?") == "thích ăn"
    assert search_words("What?") == "What?"  # nothing left: the question as it is
    text, used = injection([(1, "a" * 30), (2, "b" * 3000), (3, "c")], budget=60)
    assert used == [1, 3] and "b" * 10 not in text

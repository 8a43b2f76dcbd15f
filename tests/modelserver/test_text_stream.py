"""Stop-sequence hold-back and incremental UTF-8 (pure, no model)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from cong.modelserver.text_stream import TextAssembler, partial_suffix_length


def feed_all(assembler: TextAssembler, pieces: list[bytes]) -> str:
    out = []
    for piece in pieces:
        out.append(assembler.feed(piece))
        if assembler.stopped:
            break
    out.append(assembler.finish())
    return "".join(out)


def test_partial_suffix_length() -> None:
    assert partial_suffix_length("hello wor", ["world"]) == 3
    assert partial_suffix_length("hello", ["xyz"]) == 0
    assert partial_suffix_length("ab", ["abc", "b"]) == 2


def test_stop_split_across_tokens_is_never_emitted() -> None:
    assembler = TextAssembler(["END"])
    assert assembler.feed(b"Hello E") == "Hello "
    assert assembler.feed(b"N") == ""
    assert assembler.feed(b"D and more") == ""
    assert assembler.stopped
    assert assembler.finish() == ""


def test_false_start_is_released() -> None:
    assembler = TextAssembler(["END"])
    assert assembler.feed(b"E") == ""
    assert assembler.feed(b"x") == "Ex"
    assert assembler.feed(b"EN") == ""
    assert assembler.finish() == "EN"


def test_incomplete_utf8_waits_for_the_rest() -> None:
    snake = "🐍".encode()
    assembler = TextAssembler()
    assert assembler.feed(snake[:2]) == ""
    assert assembler.feed(snake[2:]) == "🐍"


def test_first_completed_stop_wins() -> None:
    # Within one piece the earliest match wins; across pieces, the first one completed.
    assert feed_all(TextAssembler(["b", "abc"]), [b"xxabc"]) == "xx"
    assert feed_all(TextAssembler(["b", "abc"]), [b"xxa", b"b", b"c"]) == "xxa"


@given(
    text=st.text(alphabet="ab \u00e9\u4e2d", max_size=30),
    stop=st.text(alphabet="ab ", min_size=1, max_size=3),
    cuts=st.lists(st.integers(min_value=0, max_value=120), max_size=10),
)
def test_any_split_gives_the_text_before_the_first_stop(
    text: str, stop: str, cuts: list[int]
) -> None:
    data = text.encode()
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    expected = text[: text.index(stop)] if stop in text else text
    assert feed_all(TextAssembler([stop]), pieces) == expected

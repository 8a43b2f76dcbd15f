from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cong.protocol.sse import DONE, SSEDecoder, encode_json


def test_decoder_handles_comments_events_and_crlf() -> None:
    decoder = SSEDecoder()
    raw = b': keep-alive\r\n\r\nevent: message_start\r\ndata: {"a":1}\r\n\r\ndata: x\ndata: y\n\n'
    assert decoder.feed_events(raw) == [(b"message_start", b'{"a":1}'), (None, b"x\ny")]


SMALL_INTS = st.integers(-(2**53), 2**53)


@given(
    st.lists(st.dictionaries(st.text(max_size=5), SMALL_INTS, max_size=3), max_size=8),
    st.integers(min_value=1, max_value=7),
)
def test_any_split_of_a_stream_decodes_the_same(objs: list[dict[str, int]], step: int) -> None:
    stream = b"".join(encode_json(o) for o in objs) + DONE
    decoder = SSEDecoder()
    out: list[bytes] = []
    for i in range(0, len(stream), step):
        out += decoder.feed(stream[i : i + step])
    assert out == [encode_json(o)[6:-2] for o in objs] + [b"[DONE]"]

"""The stream relay: OpenAI-compatible events are passed on as the upstream's own bytes
when nothing in them needs changing. Whatever the events, the client must see exactly
what decoding, relabelling and re-encoding would give, and the tally (usage, text size,
end reason) must be the same as from decoded chunks."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from cong.gateway.metered_stream import Relabeller, StreamTally, relabel
from cong.protocol.sse import DONE, SSEDecoder, frame

ASKED = "gpt-4o"

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
) | st.sampled_from(["", 'say "hi"', "a\\b", "dòng\nmới", "tiếng Việt ✓", "\u2028"])


@st.composite
def chunks(draw: st.DrawFn) -> dict[str, Any]:
    choices = []
    for index in range(draw(st.integers(0, 2))):
        delta: dict[str, Any] = {}
        if draw(st.booleans()):
            delta["content"] = draw(texts)
        if draw(st.integers(0, 5)) == 0:
            delta["tool_calls"] = [{"index": 0, "function": {"arguments": draw(texts)}}]
        choices.append(
            {
                "index": index,
                "delta": delta,
                "logprobs": None,
                "finish_reason": draw(st.sampled_from([None, None, "stop", "length"])),
            }
        )
    chunk: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": draw(st.sampled_from([ASKED, ASKED, "gpt-4o-2024-08-06"])),
        "choices": choices,
    }
    usage = draw(st.sampled_from(["null", "null", "object", "absent"]))
    if usage == "null":
        chunk["usage"] = None
    elif usage == "object":
        chunk["usage"] = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    if draw(st.booleans()):
        chunk["obfuscation"] = draw(texts)
    if "usage" in chunk and draw(st.booleans()):  # some servers write usage first
        chunk = {"usage": chunk.pop("usage"), **chunk}
    return chunk


def encode(chunk: dict[str, Any], compact: bool) -> bytes:
    if compact:
        return orjson.dumps(chunk)
    return json.dumps(chunk).encode()  # spaces after separators, \\u escapes


def decoded_path(
    events: list[dict[str, Any]], wants_usage: bool
) -> tuple[list[dict[str, Any]], StreamTally]:
    tally = StreamTally(0)
    out = []
    for event in events:
        chunk = json.loads(json.dumps(event))
        tally.see(chunk)
        relabelled = relabel(chunk, ASKED, wants_usage)
        if relabelled is not None:
            out.append(relabelled)
    return out, tally


def sse_objects(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(payload) for payload in SSEDecoder().feed(data)]


@settings(max_examples=300, deadline=None)
@given(st.lists(chunks(), max_size=6), st.booleans(), st.booleans())
def test_relayed_bytes_equal_the_decoded_path(
    events: list[dict[str, Any]], wants_usage: bool, compact: bool
) -> None:
    expected, expected_tally = decoded_path(events, wants_usage)
    tally = StreamTally(0)
    relay = Relabeller(tally, ASKED, wants_usage)
    sent = frame(relay.raw([encode(event, compact) for event in events]))

    assert sse_objects(sent) == expected
    assert tally.usage == expected_tally.usage
    assert tally.generated_bytes() == expected_tally.generated_bytes()
    assert tally.end_reason == expected_tally.end_reason
    assert tally.final_usage() == expected_tally.final_usage()


def test_an_event_that_needs_no_change_goes_out_byte_for_byte() -> None:
    payload = (
        b'{"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o",'
        b'"choices":[{"index":0,"delta":{"content":"Xin ch\\u00e0o"},"finish_reason":null}],'
        b'"usage":null}'
    )
    tally = StreamTally(0)
    sent = frame(Relabeller(tally, ASKED, wants_usage=True).raw([payload]))
    assert sent == b"data: " + payload + b"\n\n"
    assert tally.generated_bytes() == len("Xin chào".encode())


def test_a_client_that_did_not_ask_for_usage_gets_no_usage_field() -> None:
    payload = b'{"model":"gpt-4o","choices":[],"usage":null}'
    usage = b'{"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}'
    tally = StreamTally(0)
    sent = frame(Relabeller(tally, ASKED, wants_usage=False).raw([payload, usage]))
    assert sse_objects(sent) == [{"model": "gpt-4o", "choices": []}]
    assert tally.usage is not None and tally.usage.completion_tokens == 2


def test_done_is_not_part_of_the_relayed_events() -> None:
    sent = frame(Relabeller(StreamTally(0), ASKED, wants_usage=True).raw([]))
    assert sent == b"" and DONE not in sent

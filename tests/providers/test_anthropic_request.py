"""OpenAI chat requests → Anthropic Messages requests (pure translation)."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cong.protocol.errors import APIError
from cong.providers.anthropic_translate import to_anthropic_request
from tests.fakes.anthropic_upstream import check_request

MODEL = "claude-sonnet-4-20250514"


def translate(messages: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    out = to_anthropic_request({"model": MODEL, "messages": messages, **fields})
    check_request(out)  # what the real API would reject, the fake rejects too
    return out


def user(text: str = "hi") -> dict[str, Any]:
    return {"role": "user", "content": text}


def test_minimal_request_gets_default_max_tokens() -> None:
    assert translate([user()]) == {
        "model": MODEL,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }


def test_system_and_developer_messages_become_top_level_system() -> None:
    out = translate(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            user(),
            {"role": "system", "content": "Late rule."},
        ]
    )
    assert out["system"] == "Be brief.\n\nUse French.\n\nLate rule."
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_multi_turn_merges_consecutive_same_roles() -> None:
    out = translate(
        [
            user("a"),
            user("b"),
            {"role": "assistant", "content": "c"},
            {"role": "assistant", "content": "d"},
            user("e"),
        ]
    )
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "e"}]},
    ]


def test_final_assistant_prefill_loses_trailing_whitespace() -> None:
    out = translate([user(), {"role": "assistant", "content": "The answer is "}])
    assert out["messages"][-1]["content"] == [{"type": "text", "text": "The answer is"}]


def test_images_data_urls_and_http_urls() -> None:
    out = translate(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                    },
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"},
                    },
                ],
            }
        ]
    )
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_pdf_file_part_becomes_a_document() -> None:
    out = translate(
        [
            {
                "role": "user",
                "content": [
                    {
                        "type": "file",
                        "file": {
                            "filename": "a.pdf",
                            "file_data": "data:application/pdf;base64,JVBERi0=",
                        },
                    }
                ],
            }
        ]
    )
    assert out["messages"][0]["content"][0] == {
        "type": "document",
        "title": "a.pdf",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
    }


@pytest.mark.parametrize("url", ["data:image/png,notbase64", "ftp://x/y.png", "file:///etc"])
def test_bad_image_urls_are_400(url: str) -> None:
    with pytest.raises(APIError) as error:
        to_anthropic_request(
            {
                "model": MODEL,
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
                ],
            }
        )
    assert error.value.status == 400 and error.value.param == "messages[0].content"


def test_audio_parts_are_unsupported() -> None:
    with pytest.raises(APIError) as error:
        to_anthropic_request(
            {
                "model": MODEL,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "input_audio",
                                "input_audio": {"data": "AAAA", "format": "wav"},
                            }
                        ],
                    }
                ],
            }
        )
    assert error.value.status == 400 and error.value.code == "unsupported_by_upstream"


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        ("END", ["END"]),
        (["a", "b"], ["a", "b"]),
        (["\n", " x "], [" x "]),
    ],
)
def test_stop_sequences(stop: Any, expected: list[str]) -> None:
    assert translate([user()], stop=stop)["stop_sequences"] == expected


def test_stop_none_or_whitespace_only_is_omitted() -> None:
    assert "stop_sequences" not in translate([user()], stop=None)
    assert "stop_sequences" not in translate([user()], stop=["  "])


def test_max_tokens_and_max_completion_tokens() -> None:
    assert translate([user()], max_tokens=50)["max_tokens"] == 50
    assert translate([user()], max_tokens=50, max_completion_tokens=70)["max_tokens"] == 70


@pytest.mark.parametrize(("given_t", "sent"), [(0, 0.0), (0.7, 0.7), (1.5, 1.0), (2, 1.0)])
def test_temperature_is_clamped(given_t: float, sent: float) -> None:
    assert translate([user()], temperature=given_t)["temperature"] == sent


def test_top_p_and_user() -> None:
    out = translate([user()], top_p=0.9, user="user-42", seed=3, presence_penalty=0.5)
    assert out["top_p"] == 0.9
    assert out["metadata"] == {"user_id": "user-42"}
    assert "seed" not in out and "presence_penalty" not in out
    assert "top_p" not in translate([user()], top_p=1)


@pytest.mark.parametrize(("effort", "budget"), [("low", 1024), ("medium", 4096), ("high", 16384)])
def test_reasoning_effort_enables_thinking(effort: str, budget: int) -> None:
    out = translate([user()], reasoning_effort=effort, temperature=0.2, top_p=0.5)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert out["max_tokens"] > budget
    assert "temperature" not in out and "top_p" not in out


def test_thinking_keeps_room_for_the_answer() -> None:
    out = translate([user()], reasoning_effort="medium", max_completion_tokens=1000)
    assert out["max_tokens"] == 1000 + 4096
    out = translate([user()], reasoning_effort="low", max_tokens=8000)
    assert out["max_tokens"] == 8000


def test_json_object_response_format_adds_an_instruction() -> None:
    out = translate(
        [{"role": "system", "content": "Be kind."}, user()], response_format={"type": "json_object"}
    )
    assert out["system"].startswith("Be kind.\n\n")
    assert "JSON object" in out["system"]


def test_json_schema_response_format_includes_the_schema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    out = translate(
        [user()],
        response_format={"type": "json_schema", "json_schema": {"name": "count", "schema": schema}},
    )
    assert orjson.dumps(schema).decode() in out["system"]
    assert "'count'" in out["system"]
    assert "system" not in translate([user()], response_format={"type": "text"})


def test_stream_flag_and_openai_only_fields_are_not_forwarded() -> None:
    out = translate(
        [user()],
        stream=True,
        stream_options={"include_usage": True},
        n=1,
        logprobs=False,
        service_tier="auto",
        store=False,
    )
    assert out["stream"] is True
    assert "stream_options" not in out and "n" not in out


@pytest.mark.parametrize("fields", [{"n": 2}, {"logprobs": True}])
def test_unsupported_options_are_400(fields: dict[str, Any]) -> None:
    with pytest.raises(APIError) as error:
        to_anthropic_request({"model": MODEL, "messages": [user()], **fields})
    assert error.value.code == "unsupported_by_upstream"


ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool_round"])


@given(st.lists(ROLES, min_size=1, max_size=12))
def test_any_conversation_translates_to_valid_alternating_turns(roles: list[str]) -> None:
    messages: list[dict[str, Any]] = [user("start")]
    for i, role in enumerate(roles):
        if role == "tool_round":
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": f"c{i}",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                }
            )
            messages.append({"role": "tool", "tool_call_id": f"c{i}", "content": "ok"})
        else:
            messages.append({"role": role, "content": f"m{i}"})
    out = translate(messages)
    turns = [m["role"] for m in out["messages"]]
    assert all(a != b for a, b in itertools.pairwise(turns))


def test_whitespace_only_prefill_is_dropped() -> None:
    out = translate([user(), {"role": "assistant", "content": "  "}])
    assert [m["role"] for m in out["messages"]] == ["user"]

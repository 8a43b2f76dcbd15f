"""Tool calls in conversations: an assistant's tool calls and the tool results are stored
as they are (ids, names, arguments), and a conversation continued by id replays them in
the shape OpenAI accepts (checked by the fake upstream with OpenAI's own rule)."""

from __future__ import annotations

from typing import Any

import pytest
from openai import OpenAI

from cong.memory.tool_turns import replayable
from tests.fakes.openai_upstream import TOOL_CALLS, Recorder, tool_sequence_problem
from tests.memory.helpers import seen_upstream
from tests.support.gateway import RunningGateway, api

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def _results(prefix: str) -> list[dict[str, Any]]:
    return [
        {"role": "tool", "tool_call_id": call["id"], "content": f"{prefix} sunny in {call['id']}"}
        for call in TOOL_CALLS
    ]


def _calls_made(client: OpenAI, text: str, stream: bool) -> str:
    """Asks fake-tools (it calls get_weather twice); the new conversation's id."""
    body: dict[str, Any] = {
        "model": "fake-tools",
        "messages": [{"role": "user", "content": text}],
        "tools": TOOLS,
    }
    if not stream:
        raw = client.chat.completions.with_raw_response.create(**body)
        assert raw.parse().choices[0].finish_reason == "tool_calls"
        return str(raw.headers["x-conversation-id"])
    with client.chat.completions.with_streaming_response.create(**body, stream=True) as raw:
        assert any(chunk.choices and chunk.choices[0].delta.tool_calls for chunk in raw.parse())
        return str(raw.headers["x-conversation-id"])


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_tool_calls_are_stored_and_replayed_in_openai_shape(
    memory_gateway: RunningGateway, fake_openai: tuple[str, Recorder], stream: bool
) -> None:
    gw, recorder = memory_gateway, fake_openai[1]
    token = gw.create_key("tuan")  # history mode
    client = OpenAI(base_url=gw.base_url, api_key=token)
    conversation = _calls_made(client, f"tc1-{stream} Weather in Paris and Tokyo?", stream)

    # The client sends only the tool results: the stored call comes before them.
    done = client.chat.completions.create(
        model="fake-tools",
        messages=_results(f"tc2-{stream}"),  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
        extra_headers={"X-Conversation-Id": conversation},
    )
    assert done.choices[0].message.content == "Hello from fake"
    seen = [b for b in recorder.requests if f"tc2-{stream}" in str(b.get("messages"))][-1]
    assert tool_sequence_problem(seen["messages"]) is None
    assert [m["role"] for m in seen["messages"]] == ["user", "assistant", "tool", "tool"]
    assert seen["messages"][1]["tool_calls"] == TOOL_CALLS
    assert seen["messages"][1]["content"] is None

    # A later turn replays the whole exchange, still valid.
    client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": f"tc3-{stream} thanks"}],
        extra_headers={"X-Conversation-Id": conversation},
    )
    seen = seen_upstream(recorder, f"tc3-{stream}")
    assert tool_sequence_problem(seen["messages"]) is None
    roles = [m["role"] for m in seen["messages"]]
    assert roles == ["user", "assistant", "tool", "tool", "assistant", "user"]
    assert [m["tool_call_id"] for m in seen["messages"][2:4]] == ["call_Paris", "call_Tokyo"]

    # The conversation API shows them as stored.
    shown = api(gw, "GET", f"/api/conversations/{conversation}", token).json()["messages"]
    assert shown[1]["tool_calls"] == TOOL_CALLS
    assert shown[2]["tool_call_id"] == "call_Paris" and "tc2" in shown[2]["content"]
    markdown = api(
        gw, "GET", f"/api/conversations/{conversation}", token, params={"format": "markdown"}
    )
    assert 'get_weather({"city":"Paris"})' in markdown.text


def test_a_call_whose_results_never_came_is_left_out_of_the_replay(
    memory_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw, recorder = memory_gateway, fake_openai[1]
    token = gw.create_key("thu")
    client = OpenAI(base_url=gw.base_url, api_key=token)
    conversation = _calls_made(client, "td1 Weather?", stream=False)
    # The user moves on without running the tools: OpenAI would refuse the dangling call.
    answer = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "td2 never mind"}],
        extra_headers={"X-Conversation-Id": conversation},
    )
    assert answer.choices[0].message.content == "Hello from fake"
    seen = seen_upstream(recorder, "td2")
    assert tool_sequence_problem(seen["messages"]) is None
    assert [m["role"] for m in seen["messages"]] == ["user", "user"]

    # The next turn's tool results would answer nothing now: the client's own messages
    # are sent as they are (and refused by OpenAI's rule), never silently dropped.
    assert replayable([], _results("td3")) == []


def test_replay_keeps_answered_calls_and_drops_orphans() -> None:
    call = TOOL_CALLS[0]
    stored = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "Let me look.", "tool_calls": TOOL_CALLS},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_gone", "content": "orphan"},
        {"role": "assistant", "content": "Sunny in Paris."},
    ]
    replay = replayable(stored)
    assert tool_sequence_problem(replay) is None
    # The unanswered Tokyo call is dropped, the text of its turn kept; the orphan goes.
    assert replay[1] == {"role": "assistant", "content": "Let me look.", "tool_calls": [call]}
    assert [m.get("tool_call_id") for m in replay[2:3]] == [call["id"]]
    assert len(replay) == 4

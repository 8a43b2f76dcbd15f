"""Conversations through any OpenAI client: continued by id with only the new message,
streamed turns stored, the id field never reaching the upstream, ``off`` storing
nothing, and the oldest turns summarised when they no longer fit."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from openai import OpenAI

from tests.fakes.openai_upstream import Recorder
from tests.memory.helpers import contents, key_with_mode, seen_upstream
from tests.support.gateway import RunningGateway, api


def test_a_conversation_continues_by_id_from_json_and_stream_turns(
    memory_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw, recorder = memory_gateway, fake_openai[1]
    token = gw.create_key("ana")  # a new key: history mode
    client = OpenAI(base_url=gw.base_url, api_key=token)
    first = client.chat.completions.with_raw_response.create(
        model="fake-model",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "c1-first question"},
        ],
    )
    conversation = first.headers["x-conversation-id"]
    assert conversation.startswith("conv_")
    assert "x-memories-used" not in first.headers  # history mode injects nothing

    # The SDK's extra_body carries the id; only the new message is sent.
    second = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "c1-second question"}],
        extra_body={"conversation_id": conversation},
    )
    assert second.choices[0].message.content == "Hello from fake"
    seen = seen_upstream(recorder, "c1-second")
    assert "conversation_id" not in seen
    assert contents(seen) == [
        ("user", "c1-first question"),
        ("assistant", "Hello from fake"),
        ("user", "c1-second question"),
    ]

    # A stream, continued by header; its relayed text is stored.
    stream = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "c1-third question"}],
        stream=True,
        extra_headers={"X-Conversation-Id": conversation},
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == (
        "Hello from fake"
    )
    stored = api(gw, "GET", f"/api/conversations/{conversation}", token).json()
    assert [(m["role"], m["content"]) for m in stored["messages"]] == [
        ("user", "c1-first question"),
        ("assistant", "Hello from fake"),
        ("user", "c1-second question"),
        ("assistant", "Hello from fake"),
        ("user", "c1-third question"),
        ("assistant", "Hello from fake"),
    ]
    assert stored["title"] == "c1-first question"
    assert stored["client"].startswith("OpenAI/Python")


def test_off_mode_stores_nothing_and_strips_the_id(
    memory_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw, recorder = memory_gateway, fake_openai[1]
    token = key_with_mode(gw, "olga", "off")
    answer = httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {token}"},
        json={
            "model": "fake-model",
            "messages": [{"role": "user", "content": "off-1 hãy nhớ: tôi thích trà"}],
            "conversation_id": "conv_whatever",
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert "x-conversation-id" not in answer.headers
    assert "conversation_id" not in seen_upstream(recorder, "off-1")
    assert api(gw, "GET", "/api/conversations", token).json()["data"] == []
    assert api(gw, "GET", "/api/memories", token).json()["data"] == []


def test_another_users_conversation_is_not_found(memory_gateway: RunningGateway) -> None:
    gw = memory_gateway
    owner, other = gw.create_key("pia"), gw.create_key("quan")
    first = OpenAI(base_url=gw.base_url, api_key=owner).chat.completions.with_raw_response
    conversation = first.create(
        model="fake-model", messages=[{"role": "user", "content": "private"}]
    ).headers["x-conversation-id"]
    answer = httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {other}", "x-conversation-id": conversation},
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert api(gw, "GET", f"/api/conversations/{conversation}", other).status_code == 404
    assert api(gw, "DELETE", f"/api/conversations/{conversation}", other).status_code == 404


@pytest.mark.memory_settings(context_tokens=400)
def test_oldest_turns_are_summarised_when_they_no_longer_fit(
    memory_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw, recorder = memory_gateway, fake_openai[1]
    token = gw.create_key("sam")
    client = OpenAI(base_url=gw.base_url, api_key=token)
    filler = " lorem ipsum dolor" * 20  # ~120 tokens by the gateway's estimate
    conversation = client.chat.completions.with_raw_response.create(
        model="fake-model",
        messages=[{"role": "user", "content": "s0" + filler}],
        max_tokens=50,
    ).headers["x-conversation-id"]
    for turn in range(1, 4):
        client.chat.completions.create(
            model="fake-model",
            messages=[{"role": "user", "content": f"s{turn}" + filler}],
            max_tokens=50,
            extra_body={"conversation_id": conversation},
        )
    seen = seen_upstream(recorder, "s3")
    assert seen["messages"][0]["role"] == "system"
    assert seen["messages"][0]["content"].startswith("Summary of the earlier conversation:")
    assert not any("s0 lorem" in str(m["content"]) for m in seen["messages"])
    stored = api(gw, "GET", f"/api/conversations/{conversation}", token).json()
    assert stored["summary"] == "Hello from fake"  # what the summary model answered
    assert len(stored["messages"]) == 8  # every turn is still listed

    # Deleting the conversation deletes its messages and summary.
    assert api(gw, "DELETE", f"/api/conversations/{conversation}", token).status_code == 204
    assert api(gw, "GET", f"/api/conversations/{conversation}", token).status_code == 404


async def test_many_turns_at_once_are_all_stored_in_order(memory_gateway: RunningGateway) -> None:
    """Turns are written behind the answers, in batches: 40 concurrent conversations
    and then their continuations all come back whole and in order."""
    gw = memory_gateway
    token = gw.create_key("binh")
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=gw.base_url, headers=headers, timeout=60) as client:

        async def ask(text: str, conversation: str | None = None) -> str:
            extra = {"x-conversation-id": conversation} if conversation else {}
            body = {"model": "fake-model", "messages": [{"role": "user", "content": text}]}
            answer = await client.post("/chat/completions", json=body, headers=extra)
            assert answer.status_code == 200, answer.text
            return answer.headers["x-conversation-id"]

        ids = await asyncio.gather(*(ask(f"b{i}-one") for i in range(40)))
        again = await asyncio.gather(*(ask(f"b{i}-two", c) for i, c in enumerate(ids)))
    assert again == ids and len(set(ids)) == 40
    for i, conversation in enumerate(ids):
        messages = api(gw, "GET", f"/api/conversations/{conversation}", token).json()["messages"]
        assert [m["content"] for m in messages if m["role"] == "user"] == [
            f"b{i}-one",
            f"b{i}-two",
        ]
        assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]


def test_a_message_with_nul_characters_is_stored_and_continued(
    memory_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    """PostgreSQL's text and JSON cannot hold NUL: the turn is stored without it (it was
    refused and the conversation lost), on both databases."""
    gw = memory_gateway
    key = gw.create_key("nul-user")
    first = httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={
            "model": "fake-model",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "nul1 a\x00b"}]}],
        },
        timeout=30,
    )
    assert first.status_code == 200, first.text
    conversation = first.headers["x-conversation-id"]
    again = httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {key}", "X-Conversation-Id": conversation},
        json={"model": "fake-model", "messages": [{"role": "user", "content": "nul2 \x00next"}]},
        timeout=30,
    )
    assert again.status_code == 200, again.text
    seen = fake_openai[1].requests[-1]["messages"]
    assert [m["role"] for m in seen] == ["user", "assistant", "user"]
    assert seen[0]["content"] == [{"type": "text", "text": "nul1 ab"}]
    stored = api(gw, "GET", f"/api/conversations/{conversation}", key).json()
    assert len(stored["messages"]) == 4 and "\x00" not in str(stored)

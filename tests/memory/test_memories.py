"""Memories: an explicit write through one key is injected into another key's request of
the same user (seen at the fake upstream, named in X-Memories-Used); another user never
sees it; the API lists, searches, edits, pins, deletes, exports and imports."""

from __future__ import annotations

import time

import httpx
from openai import OpenAI

from tests.fakes.openai_upstream import Recorder
from tests.memory.helpers import ask, key_with_mode, seen_upstream
from tests.support.gateway import RunningGateway, api
from tests.support.web import Browser, fresh_ip, user_with_password


def test_a_memory_written_by_one_key_reaches_another_key_not_another_user(
    memory_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw, recorder = memory_gateway, fake_openai[1]
    phone = key_with_mode(gw, "lan", "full")
    laptop = key_with_mode(gw, "lan", "full")
    stranger = key_with_mode(gw, "minh", "full")

    wrote = ask(gw, phone, "Hãy nhớ: tên tôi là Lan.")
    (memory,) = api(gw, "GET", "/api/memories", phone).json()["data"]
    assert memory["text"] == "tên tôi là Lan." and memory["kind"] == "explicit"
    assert wrote.headers["x-memories-used"] == str(memory["id"])

    used = ask(gw, laptop, "m1 Tên tôi là gì?")
    seen = seen_upstream(recorder, "m1 Tên")
    (system,) = [m for m in seen["messages"] if m["role"] == "system"]
    assert "tên tôi là Lan." in system["content"]
    assert used.headers["x-memories-used"] == str(memory["id"])
    # The injected tokens are prompt tokens of this request (the upstream counted them).
    assert used.json()["usage"]["prompt_tokens"] > 0

    other = ask(gw, stranger, "m2 Tên tôi là gì?")
    assert "Lan" not in str(seen_upstream(recorder, "m2 Tên")["messages"])
    assert other.headers["x-memories-used"] == ""
    assert api(gw, "GET", "/api/memories", stranger).json()["data"] == []
    assert api(gw, "GET", f"/api/memories/{memory['id']}", stranger).status_code == 404
    assert api(gw, "DELETE", f"/api/memories/{memory['id']}", stranger).status_code == 404
    searched = api(gw, "GET", "/api/memories", stranger, params={"q": "tên Lan"}).json()
    assert searched["data"] == []

    # History mode (a new key's default) stores the conversation but injects nothing.
    plain = gw.create_key("lan")
    history = ask(gw, plain, "m3 Tên tôi là gì?")
    assert "x-memories-used" not in history.headers
    assert "Lan" not in str(seen_upstream(recorder, "m3 Tên")["messages"])


def test_the_memories_api(
    memory_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw, recorder = memory_gateway, fake_openai[1]
    token = key_with_mode(gw, "vy", "full")
    added = api(gw, "POST", "/api/memories", token, json={"text": "I prefer Python over Go"})
    assert added.status_code == 201, added.text
    coffee = api(gw, "POST", "/api/memories", token, json={"text": "Tôi uống cà phê sữa đá"})
    mid = added.json()["id"]

    found = api(gw, "GET", "/api/memories", token, params={"q": "which language do I prefer"})
    assert found.json()["data"][0]["id"] == mid
    found = api(gw, "GET", "/api/memories", token, params={"q": "tôi thích uống gì, cà phê?"})
    assert found.json()["data"][0]["id"] == coffee.json()["id"]

    edited = api(gw, "PATCH", f"/api/memories/{mid}", token, json={"pinned": True})
    assert edited.json()["pinned"] is True
    edited = api(gw, "PATCH", f"/api/memories/{mid}", token, json={"text": "I prefer Rust"})
    assert edited.json()["text"] == "I prefer Rust"
    listed = api(gw, "GET", "/api/memories", token).json()
    assert listed["data"][0]["id"] == mid and listed["total"] == 2

    # A pinned memory is injected whatever the question.
    pinned = httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {token}"},
        json={"model": "fake-model", "messages": [{"role": "user", "content": "p1 weather?"}]},
        timeout=30,
    )
    assert str(mid) in pinned.headers["x-memories-used"].split(",")
    assert "I prefer Rust" in str(seen_upstream(recorder, "p1 weather")["messages"])

    exported = api(gw, "GET", "/api/memories/export", token).json()["data"]
    assert {m["text"] for m in exported} == {"I prefer Rust", "Tôi uống cà phê sữa đá"}

    assert api(gw, "DELETE", f"/api/memories/{mid}", token).status_code == 204
    assert api(gw, "GET", f"/api/memories/{mid}", token).status_code == 404
    # Gone from full text and vectors too: nothing finds it any more.
    found = api(gw, "GET", "/api/memories", token, params={"q": "I prefer Rust"}).json()
    assert mid not in [m["id"] for m in found["data"]]

    other = gw.create_key("wen")
    imported = api(gw, "POST", "/api/memories/import", other, json={"data": exported})
    assert imported.status_code == 201, imported.text
    assert len(api(gw, "GET", "/api/memories", other).json()["data"]) == 2
    assert len(api(gw, "GET", "/api/memories", token).json()["data"]) == 1

    bad = api(gw, "POST", "/api/memories", token, json={"text": ""})
    assert bad.status_code == 400 and "error" in bad.json()
    mode = api(gw, "PUT", "/api/memory/keys/nope", token, json={"mode": "sometimes"})
    assert mode.status_code == 400


def test_the_web_chat_remembers_by_default_and_needs_csrf(
    memory_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw, recorder = memory_gateway, fake_openai[1]
    user_with_password(gw, "xuan", "a-long-password-1")
    browser = Browser(gw, fresh_ip())
    assert browser.sign_in(username="xuan", password="a-long-password-1").status_code == 200
    body = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "remember: I live in Huế"}],
    }
    refused = browser.call("POST", "/api/chat/completions", csrf=False, json=body)
    assert refused.status_code == 403
    answer = browser.call("POST", "/api/chat/completions", json=body)
    assert answer.status_code == 200, answer.text
    conversation = answer.headers["x-conversation-id"]
    assert answer.json()["conversation_id"] == conversation
    listed = browser.call("GET", "/api/conversations").json()["data"]
    assert [c["id"] for c in listed] == [conversation] and listed[0]["client"] == "web"
    (memory,) = browser.call("GET", "/api/memories").json()["data"]
    assert memory["text"] == "I live in Huế"

    # The same user's key (history mode) continues the web conversation by id.
    key = gw.create_key("xuan")
    client = OpenAI(base_url=gw.base_url, api_key=key)
    client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "w2 and then?"}],
        extra_headers={"X-Conversation-Id": conversation},
    )
    seen = seen_upstream(recorder, "w2 and")
    assert seen["messages"][0]["content"] == "remember: I live in Huế"
    browser.close()


def test_conversation_listing_search_rename_cut_and_export(memory_gateway: RunningGateway) -> None:
    gw = memory_gateway
    token = gw.create_key("yen")
    client = OpenAI(base_url=gw.base_url, api_key=token).chat.completions.with_raw_response
    ids = [
        client.create(model="fake-model", messages=[{"role": "user", "content": text}]).headers[
            "x-conversation-id"
        ]
        for text in ("Phở recipe", "Trip to Đà Nẵng")
    ]
    found = api(gw, "GET", "/api/conversations", token, params={"q": "đà nẵng"}).json()["data"]
    assert [c["id"] for c in found] == [ids[1]]
    renamed = api(gw, "PATCH", f"/api/conversations/{ids[0]}", token, json={"title": "Nấu phở"})
    assert renamed.json()["title"] == "Nấu phở"
    listed = api(gw, "GET", "/api/conversations", token).json()["data"]
    assert {c["id"] for c in listed} == set(ids)

    markdown = api(
        gw, "GET", f"/api/conversations/{ids[0]}/export", token, params={"format": "markdown"}
    )
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# Nấu phở") and "## assistant" in markdown.text
    exported = api(gw, "GET", f"/api/conversations/{ids[0]}/export", token).json()
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant"]

    answer_id = exported["messages"][1]["id"]
    other = api(gw, "GET", f"/api/conversations/{ids[1]}", token).json()["messages"]
    for elsewhere in (other[0]["id"], 10**9):  # another conversation's message, or none
        refused = api(
            gw,
            "POST",
            f"/api/conversations/{ids[0]}/cut",
            token,
            json={"from_message_id": elsewhere},
        )
        assert refused.status_code == 404, refused.text
    assert len(api(gw, "GET", f"/api/conversations/{ids[0]}", token).json()["messages"]) == 2
    cut = api(
        gw, "POST", f"/api/conversations/{ids[0]}/cut", token, json={"from_message_id": answer_id}
    )
    assert cut.json()["deleted_messages"] == 1
    again = api(gw, "GET", f"/api/conversations/{ids[0]}", token).json()
    assert [m["role"] for m in again["messages"]] == ["user"]


def test_ids_and_times_past_64_bits_are_a_clear_400(memory_gateway: RunningGateway) -> None:
    """Found by the fuzzer: an id beyond what the database stores was a 500."""
    gw = memory_gateway
    token = gw.create_key("oanh")
    conversation = ask(gw, token, "Xin chào").headers["x-conversation-id"]
    huge = 61248266899459866624
    calls = [
        ("GET", f"/api/memories/{huge}", None, None),
        ("PATCH", f"/api/memories/{huge}", None, {"pinned": True}),
        ("DELETE", f"/api/memories/{huge}", None, None),
        ("GET", "/api/memories", {"offset": huge}, None),
        ("GET", "/api/conversations", {"before": huge}, None),
        ("POST", f"/api/conversations/{conversation}/cut", None, {"from_message_id": huge}),
    ]
    for method, path, params, body in calls:
        answer = api(gw, method, path, token, params=params, json=body)
        assert answer.status_code == 400, (method, path, answer.text)
        assert answer.json()["error"]["type"] == "invalid_request_error"
    kept = api(gw, "GET", f"/api/conversations/{conversation}", token).json()
    assert [m["role"] for m in kept["messages"]] == ["user", "assistant"]
    assert api(gw, "GET", f"/api/memories/{2**63 - 1}", token).status_code == 404


def test_remember_stores_a_fact_not_a_question_and_names_its_conversation(
    memory_gateway: RunningGateway,
) -> None:
    gw = memory_gateway
    key = key_with_mode(gw, "tuan", "full")
    for text in (
        "Remember?",
        "remember:",
        "Remembering my trip to Da Lat, what should I pack?",
        "Remember: what is my name?",
        "Hãy nhớ lại xem hôm qua tôi nói gì?",
    ):
        ask(gw, key, text)
    assert api(gw, "GET", "/api/memories", key).json()["data"] == []

    started = ask(gw, key, "Hãy nhớ: tôi dị ứng tôm.")
    conversation = started.headers["x-conversation-id"]
    deadline = time.monotonic() + 5
    while True:  # the conversation is stored behind the answer, then named
        (memory,) = api(gw, "GET", "/api/memories", key).json()["data"]
        if memory["source_conversation_id"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert memory["text"] == "tôi dị ứng tôm." and memory["source_conversation_id"] == conversation

    continued = httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {key}", "X-Conversation-Id": conversation},
        json={
            "model": "fake-model",
            "messages": [{"role": "user", "content": "Remember that I live in Huế"}],
        },
        timeout=30,
    )
    assert continued.status_code == 200, continued.text
    texts = {m["text"]: m for m in api(gw, "GET", "/api/memories", key).json()["data"]}
    assert texts["I live in Huế"]["source_conversation_id"] == conversation

    # A conversation that is not the user's: 404, and nothing remembered.
    elsewhere = httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {key}", "X-Conversation-Id": "conv_nowhere"},
        json={
            "model": "fake-model",
            "messages": [{"role": "user", "content": "Remember that I am 30"}],
        },
        timeout=30,
    )
    assert elsewhere.status_code == 404
    assert "I am 30" not in {m["text"] for m in api(gw, "GET", "/api/memories", key).json()["data"]}

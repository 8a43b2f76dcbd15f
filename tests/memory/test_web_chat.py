"""The cross-client proof in Chromium: a conversation started in the web chat (/chat)
continues from the official openai SDK by its id; a memory written in the web chat is
injected into the SDK's request of the same user (seen at the fake upstream), never into
another user's; the SDK's turn then shows in the web chat. SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI
from playwright import sync_api
from playwright.sync_api import expect
from sqlalchemy import select

from cong.billing.wallets import money
from cong.storage.usage_tables import UsageLog
from tests.fakes.openai_upstream import Recorder
from tests.memory.helpers import contents, key_with_mode, seen_upstream
from tests.support.billing import db_call, fund, set_price
from tests.support.gateway import RunningGateway, auth
from tests.support.web import user_with_password

CHROMIUM = os.environ.get("CONG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "a-long-password-for-hoa"


@contextmanager
def chromium_page(gw: RunningGateway, errors: list[str], **options: Any) -> Iterator[Any]:
    """A fresh Chromium page (started after the gateway: Playwright's sync API keeps an
    event loop in this thread while it is open)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=gw.url, locale="vi-VN", **options)
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            yield page
        finally:
            browser.close()


def usage_rows(gw: RunningGateway, model: str) -> list[UsageLog]:
    """The usage rows of ``model``, once the writer has flushed them."""
    query = select(UsageLog).where(UsageLog.requested_model == model)

    async def read(session: Any) -> list[UsageLog]:
        return list((await session.scalars(query)).all())

    deadline = time.monotonic() + 5
    while True:
        rows: list[UsageLog] = db_call(gw, read)
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def sign_in(page: Any, name: str, password: str) -> None:
    page.goto("/login?next=/chat")
    form = page.get_by_test_id("password-form")
    form.get_by_label(re.compile("User name|Tên người dùng")).fill(name)
    form.get_by_label(re.compile("^(Password|Mật khẩu)$")).fill(password)
    form.get_by_role("button").click()
    page.wait_for_url("**/chat")


def send(page: Any, text: str) -> None:
    page.get_by_test_id("chat-input").fill(text)
    page.get_by_test_id("chat-input").press("Enter")
    expect(page.get_by_test_id("chat-send")).to_be_visible()  # the stream has ended


def test_web_chat_to_sdk_and_back(
    memory_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw, recorder = memory_gateway, fake_openai[1]
    user_with_password(gw, "hoa", PASSWORD)
    sdk_key = key_with_mode(gw, "hoa", "full")
    stranger = key_with_mode(gw, "khanh", "full")
    errors: list[str] = []
    with chromium_page(gw, errors) as page:
        sign_in(page, "hoa", PASSWORD)
        page.get_by_test_id("chat-model").select_option("fake-model")
        send(page, "Hãy nhớ: tôi thích phở bò.")
        messages = page.get_by_test_id("chat-messages")
        expect(messages.locator("[data-role=assistant]")).to_have_text(
            re.compile("Hello from fake")
        )
        expect(page.get_by_test_id("chat-memories")).to_contain_text("tôi thích phở bò.")
        expect(page.get_by_test_id("memory-used")).to_have_count(1)  # used by its own answer
        expect(page.get_by_test_id("chat-usage")).to_contain_text("token")
        conversation = (
            page.get_by_test_id("chat-list").locator("li[data-id]").get_attribute("data-id")
        )
        assert conversation and conversation.startswith("conv_")

        # The official SDK continues it by id, with only the new message.
        sdk = OpenAI(base_url=gw.base_url, api_key=sdk_key)
        answer = sdk.chat.completions.with_raw_response.create(
            model="fake-model",
            messages=[{"role": "user", "content": "x1 Tôi thích ăn gì?"}],
            extra_body={"conversation_id": conversation},
        )
        assert answer.headers["x-conversation-id"] == conversation
        seen = seen_upstream(recorder, "x1 Tôi")
        assert contents(seen)[1:] == [
            ("user", "Hãy nhớ: tôi thích phở bò."),
            ("assistant", "Hello from fake"),
            ("user", "x1 Tôi thích ăn gì?"),
        ]
        assert contents(seen)[0][0] == "system" and "tôi thích phở bò." in contents(seen)[0][1]

        # Another user's request never sees it.
        OpenAI(base_url=gw.base_url, api_key=stranger).chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "x2 Tôi thích ăn gì?"}]
        )
        assert "phở" not in str(seen_upstream(recorder, "x2 Tôi")["messages"])

        # And back: the web chat shows the SDK's turn in the same conversation.
        page.goto(f"/chat?c={conversation}")
        expect(messages.locator("[data-role=user]")).to_have_count(2)
        expect(messages.locator("[data-role=user]").nth(1)).to_have_text(
            re.compile("x1 Tôi thích ăn gì")
        )
    assert errors == []


def test_web_chat_regenerate_edit_and_memory_panel(memory_gateway: RunningGateway) -> None:
    gw = memory_gateway
    user_with_password(gw, "hoa", PASSWORD)
    errors: list[str] = []
    with chromium_page(gw, errors, viewport={"width": 390, "height": 800}) as page:
        sign_in(page, "hoa", PASSWORD)
        page.get_by_test_id("chat-model").select_option("fake-parrot")
        send(page, "first **bold** and `code`")
        messages = page.get_by_test_id("chat-messages")
        assistant = messages.locator("[data-role=assistant]")
        expect(assistant.locator("strong")).to_have_text("bold")  # Markdown, sanitised
        page.get_by_test_id("chat-regenerate").click()
        expect(page.get_by_test_id("chat-send")).to_be_hidden()
        expect(page.get_by_test_id("chat-send")).to_be_visible()
        expect(assistant).to_have_count(1)
        # Edit and resend: the answer follows the edited text.
        messages.locator("[data-role=user]").get_by_role("button").click()
        messages.locator("textarea").fill("<img src=x onerror=alert(1)> edited")
        messages.get_by_role("button", name=re.compile("Gửi lại|Send again")).click()
        expect(page.get_by_test_id("chat-send")).to_be_visible()
        expect(assistant).to_have_count(1)
        expect(assistant).to_contain_text("edited")
        assert assistant.locator("img").count() == 0
        # The memory panel (a phone-sized screen: behind its toggle) adds and forgets.
        page.get_by_role("button", name=re.compile("^(Ký ức|Memory)$")).click()
        panel = page.get_by_test_id("chat-memories")
        page.get_by_placeholder(re.compile("Điều cần nhớ|Something to remember")).fill("Tôi ở Huế")
        page.get_by_role("button", name=re.compile("^(Ghi nhớ|Remember)$")).click()
        expect(panel).to_contain_text("Tôi ở Huế")
        page.once("dialog", lambda dialog: dialog.accept())
        panel.get_by_role("button", name=re.compile("^(Xóa|Delete)$")).click()
        expect(panel).not_to_contain_text("Tôi ở Huế")
    assert errors == []


def test_stop_then_regenerate_replaces_the_stopped_answer_and_shows_the_charge(
    memory_gateway: RunningGateway,
) -> None:
    """A stopped answer is stored just after the stop: regenerating at once must still
    cut it (it was kept, and the question doubled, while its ids were not known yet). The
    cost under an answer is what the wallet was charged, from the usage log, at prices
    whose float maths in a browser would round differently."""
    gw = memory_gateway
    user_with_password(gw, "lan", PASSWORD)
    set_price(gw, "fake-parrot", input_per_m=3_333_333, output_per_m=7_777_777, per_call=1)
    fund(gw, "lan", 10_000_000)
    errors: list[str] = []
    with chromium_page(gw, errors) as page:
        sign_in(page, "lan", PASSWORD)
        page.get_by_test_id("chat-model").select_option("fake-slow")
        page.get_by_test_id("chat-input").fill("Kể một câu chuyện dài")
        page.get_by_test_id("chat-input").press("Enter")
        messages = page.get_by_test_id("chat-messages")
        assistant = messages.locator("[data-role=assistant]")
        expect(assistant).to_contain_text("t1")
        page.get_by_test_id("chat-stop").click()
        expect(page.get_by_test_id("chat-send")).to_be_visible()
        page.get_by_test_id("chat-model").select_option("fake-parrot")
        page.get_by_test_id("chat-regenerate").click()
        expect(page.get_by_test_id("chat-send")).to_be_hidden()
        expect(page.get_by_test_id("chat-send")).to_be_visible()
        expect(messages.locator("[data-role=user]")).to_have_count(1)
        expect(assistant).to_have_count(1)
        expect(assistant).not_to_contain_text("t1")
        charged = usage_rows(gw, "fake-parrot")
        assert len(charged) == 1 and charged[0].cost > 0
        expect(page.get_by_test_id("chat-usage")).to_contain_text(money(charged[0].cost))
    key = gw.create_key("lan")
    listed = httpx.get(f"{gw.url}/api/conversations", headers=auth(key), timeout=10).json()
    assert len(listed["data"]) == 1
    conversation = listed["data"][0]["id"]
    stored = httpx.get(
        f"{gw.url}/api/conversations/{conversation}", headers=auth(key), timeout=10
    ).json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert "t1" not in str(stored[1]["content"])
    assert errors == []


def test_web_chat_conversation_list_and_pinned_memories(memory_gateway: RunningGateway) -> None:
    """The sidebar: a new chat, search, open by click, rename, delete the open one; and a
    memory pinned from the panel."""
    gw = memory_gateway
    user_with_password(gw, "hoa", PASSWORD)
    errors: list[str] = []
    with chromium_page(gw, errors) as page:
        sign_in(page, "hoa", PASSWORD)
        page.get_by_test_id("chat-model").select_option("fake-model")
        messages = page.get_by_test_id("chat-messages")
        listed = page.get_by_test_id("chat-list").locator("li[data-id]")
        send(page, "alpha one")
        expect(listed).to_have_count(1)
        page.get_by_test_id("chat-new").click()
        expect(messages.locator("[data-role]")).to_have_count(0)
        send(page, "beta two")
        expect(listed).to_have_count(2)

        search = page.get_by_role("searchbox")
        search.fill("alpha")
        expect(listed).to_have_count(1)
        search.fill("")
        expect(listed).to_have_count(2)

        alpha = listed.filter(has_text="alpha one")
        alpha.locator(".chat-open").click()
        expect(messages.locator("[data-role=user] .chat-plain")).to_have_text(["alpha one"])
        expect(alpha).to_have_class("current")
        page.once("dialog", lambda dialog: dialog.accept("Renamed alpha"))
        alpha.get_by_role("button", name=re.compile("^(Đổi tên|Rename)$")).click()
        renamed = listed.filter(has_text="Renamed alpha")
        expect(renamed).to_have_count(1)
        page.once("dialog", lambda dialog: dialog.accept())
        renamed.get_by_role("button", name=re.compile("^(Xóa|Delete)$")).click()
        expect(listed).to_have_count(1)
        expect(listed).to_contain_text("beta two")
        expect(messages.locator("[data-role]")).to_have_count(0)  # the open one was deleted

        panel = page.get_by_test_id("chat-memories")
        page.get_by_placeholder(re.compile("Điều cần nhớ|Something to remember")).fill("Tôi ở Huế")
        page.get_by_role("button", name=re.compile("^(Ghi nhớ|Remember)$")).click()
        expect(panel).to_contain_text("Tôi ở Huế")
        panel.get_by_role("button", name=re.compile("^(Ghim|Pin)$")).click()
        expect(panel.locator(".badge")).to_have_text(re.compile("^(đã ghim|pinned)$"))
        expect(panel.get_by_role("button", name=re.compile("^(Bỏ ghim|Unpin)$"))).to_have_count(1)
    assert errors == []

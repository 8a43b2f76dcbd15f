"""The public docs page: real base URL, live status, model tags that rewrite snippets."""

from __future__ import annotations

from typing import Any

from tests.support.gateway import RunningGateway
from tests.web.browser.conftest import Watch, new_page, screenshot, unlabelled_controls


def test_docs_page_shows_this_server_and_rewrites_snippets(
    page: Any, ui_gateway: RunningGateway, watch: Watch
) -> None:
    page.goto("/")
    base = page.get_by_test_id("base-url")
    assert base.text_content() == ui_gateway.url + "/v1"
    assert unlabelled_controls(page) == []
    # keyboard: the first Tab reaches "Skip to content", which moves focus to <main>
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    status = page.get_by_test_id("status")
    # Anonymous visitors see each upstream's state and models, never its channel name.
    status.get_by_text("fake-echo", exact=False).first.wait_for()
    assert status.get_by_text("fake", exact=True).count() == 0
    # Chat models and their aliases are offered, gpt-4o first chosen; never an embedding
    # model (a chat call with one is a 400).
    tags = page.locator(".model-tags")
    assert tags.get_by_role("button", name="gpt-4o").get_attribute("aria-pressed") == "true"
    assert tags.get_by_role("button", name="fake-embed").count() == 0
    page.get_by_role("button", name="fake-echo").click()
    snippets = page.locator("pre code")
    assert all("fake-echo" in text for text in snippets.all_text_contents())
    page.get_by_role("button", name="Embeddings").click()
    embedding = snippets.all_text_contents()[-1]
    assert "fake-embed" in embedding and "fake-echo" not in embedding
    screenshot(page, "docs-en")
    assert watch.errors == [] and watch.foreign == []


def test_docs_page_on_a_phone_in_vietnamese(
    browser: Any, ui_gateway: RunningGateway, watch: Watch
) -> None:
    page = new_page(
        browser, ui_gateway, watch, viewport={"width": 390, "height": 844}, locale="vi-VN"
    )
    try:
        page.goto("/")
        page.get_by_role("heading", name="Bắt đầu nhanh trong ba bước").wait_for()
        # the menu folds behind a button on a phone and opens from the keyboard
        menu = page.get_by_role("button", name="Menu")
        menu.focus()
        page.keyboard.press("Enter")
        nav = page.get_by_role("navigation", name="Chính")
        nav.get_by_role("link", name="IDE & công cụ").wait_for()
        screenshot(page, "docs-phone-vi")
    finally:
        page.context.close()
    assert watch.errors == [] and watch.foreign == []

"""A user's round trip in Chromium: sign in with a key, create a key and call
/v1/chat/completions with it, find the call in the usage log by its request id, redeem a
code, switch language (remembered on the server), and be refused the admin pages."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.support.gateway import RunningGateway, api
from tests.web.browser.conftest import (
    Watch,
    new_page,
    screenshot,
    sign_in_with_key,
    unlabelled_controls,
    use_language,
)

PAGES = ["/", "/keys", "/models", "/usage", "/wallet", "/guides"]


def test_a_user_signs_in_with_a_key_creates_a_key_and_finds_the_call(
    browser: Any, ui_gateway: RunningGateway, watch: Watch
) -> None:
    gw = ui_gateway
    personal = gw.create_key("alice")
    page = new_page(browser, gw, watch, locale="en-US")
    try:
        sign_in_with_key(page, personal)
        assert page.get_by_test_id("who").text_content() == "alice"
        # the session lives in an HttpOnly cookie: scripts see neither it nor the key
        assert "cong_session" not in page.evaluate("document.cookie")
        assert page.evaluate("Object.keys(localStorage).length") == 0

        form = page.get_by_test_id("create-key")
        form.get_by_label("Name").fill("laptop")
        form.get_by_label("Requests per minute").fill("60")
        form.get_by_role("button", name="Create key").click()
        shown = page.get_by_test_id("new-key")
        secret = shown.locator("pre code").text_content()
        assert secret and secret.startswith("sk-")
        row = page.get_by_test_id("key-list").get_by_role("row").filter(has_text="laptop")
        masked = row.locator("code").text_content() or ""
        assert secret not in masked and masked[-4:] == secret[-4:]

        shown.get_by_label("Model").select_option("fake-model")
        shown.get_by_role("button", name=re.compile("Send to")).click()
        answer = page.get_by_test_id("answer")
        answer.get_by_text("Hello from fake").wait_for()
        request_id = page.get_by_test_id("request-id").text_content()
        assert request_id and request_id.startswith("req_")
        screenshot(page, "keys-en")

        page.goto("/usage")
        page.get_by_label("Request id").fill(request_id)
        log = page.get_by_test_id("usage-log")
        for _ in range(20):  # the usage writer flushes every 0.5 s
            page.get_by_role("button", name="Apply filters").click()
            page.wait_for_load_state("networkidle")
            if log.get_by_text(request_id).count():
                break
        log.get_by_text(request_id).wait_for()
        assert log.get_by_text("fake-model").count() >= 1

        admin = gw.admin_token
        made = api(gw, "POST", "/api/codes", admin, json={"amount": "2.5", "count": 1})
        code = made.json()["codes"][0]
        page.goto("/wallet")
        page.get_by_label("Code", exact=True).fill(code)
        page.get_by_role("button", name="Redeem").click()
        page.get_by_text("Added 2.500000").wait_for()
        expect(page.get_by_test_id("balance")).to_have_text("2.500000 USD")

        use_language(page, "vi")
        page.get_by_role("heading", name="Ví", exact=True).wait_for()
        page.reload()
        page.get_by_role("heading", name="Ví", exact=True).wait_for()
        saved = page.context.request.get(gw.url + "/api/me/language").json()
        assert saved == {"language": "vi"}

        # a non-admin is sent away from /admin, and the API refuses them too
        page.goto("/admin")
        page.wait_for_url(gw.url + "/")
        refused = page.context.request.get(gw.url + "/api/users")
        assert refused.status == 403
        assert page.get_by_role("link", name="Quản trị").count() == 0
    finally:
        page.context.close()
    assert watch.dialogs == [] and watch.errors == [] and watch.foreign == []


def test_every_user_page_in_both_languages(
    browser: Any, ui_gateway: RunningGateway, watch: Watch
) -> None:
    key = ui_gateway.create_key("bob")
    for lang, title in (("en", "API keys"), ("vi", "Khóa API")):
        page = new_page(browser, ui_gateway, watch, locale="en-US" if lang == "en" else "vi-VN")
        try:
            sign_in_with_key(page, key)
            page.get_by_role("heading", name=title, exact=True).wait_for()
            for path in PAGES:
                page.goto(path)
                page.wait_for_selector("main:not([aria-busy]) h1")
                assert page.evaluate("document.documentElement.lang") == lang
                assert unlabelled_controls(page) == [], path
                name = path.strip("/") or "docs"
                screenshot(page, f"{name}-{lang}")
            # a phone: nothing wider than the screen (tables become cards, code scrolls)
            page.set_viewport_size({"width": 390, "height": 844})
            for path in PAGES:
                page.goto(path)
                page.wait_for_selector("main:not([aria-busy]) h1")
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, (path, width)
                name = path.strip("/") or "docs"
                screenshot(page, f"{name}-phone-{lang}")
        finally:
            page.context.close()
    assert watch.dialogs == [] and watch.errors == [] and watch.foreign == []


def test_signed_out_visitors_are_sent_to_sign_in(ui_gateway: RunningGateway) -> None:
    for path in ("/keys", "/usage", "/wallet", "/models", "/admin"):
        response = httpx.get(ui_gateway.url + path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"
    docs = httpx.get(ui_gateway.url + "/")
    assert docs.status_code == 200
    policy = docs.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_a_page_whose_key_is_revoked_goes_back_to_sign_in_and_login_shows_one_error(
    browser: Any, ui_gateway: RunningGateway, watch: Watch
) -> None:
    gw = ui_gateway
    personal = gw.create_key("dung")
    page = new_page(browser, gw, watch, locale="en-US")
    try:
        sign_in_with_key(page, personal)
        page.get_by_test_id("create-key").wait_for()  # the page has drawn
        public_id = personal[3:15]
        assert api(gw, "POST", f"/api/keys/{public_id}/revoke", gw.admin_token).status_code == 200
        form = page.get_by_test_id("create-key")
        form.get_by_label("Name").fill("after revoke")
        form.get_by_role("button", name="Create key").click()  # 401: the session is gone
        page.wait_for_url("**/login?next=%2Fkeys")
        # Two failed attempts, one per form: only the latest answer is shown.
        page.get_by_test_id("key-form").get_by_label("API key").fill("sk-wrong")
        page.get_by_test_id("key-form").get_by_role("button").click()
        expect(page.get_by_test_id("key-form").locator(".message.error")).to_be_visible()
        password_form = page.get_by_test_id("password-form")
        password_form.get_by_label("User name").fill("dung")
        password_form.get_by_label("Password").fill("not-the-password")
        password_form.get_by_role("button").click()
        expect(password_form.locator(".message.error")).to_be_visible()
        expect(page.locator(".message.error")).to_have_count(1)
    finally:
        page.context.close()
    assert watch.dialogs == [] and watch.errors == [] and watch.foreign == []

"""The admin console in Chromium: an admin signs in with a password, creates a user,
adds a channel (its key written, never shown back), tests and disables it, edits a
price, creates redemption codes (shown once, as CSV too), opens registration; every tab
is photographed in both languages."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.support.gateway import RunningGateway, api
from tests.web.browser.conftest import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    Watch,
    new_page,
    screenshot,
    sign_in_with_password,
    unlabelled_controls,
    use_language,
)

TABS = ["users", "groups", "channels", "prices", "codes", "system"]


def tab(page: Any, name: str) -> Any:
    page.get_by_role("tab", name=name).click()
    panel = page.get_by_role("tabpanel")
    panel.locator("section").first.wait_for()
    return panel


def test_admin_console(
    browser: Any, ui_gateway: RunningGateway, watch: Watch, fake_openai: Any
) -> None:
    gw = ui_gateway
    page = new_page(browser, gw, watch, locale="en-US")
    try:
        sign_in_with_password(page, ADMIN_NAME, ADMIN_PASSWORD, next_path="/admin")
        panel = tab(page, "Users")
        form = panel.get_by_test_id("create-user")
        form.get_by_label("Name").fill("carol")
        form.get_by_label("Password").fill("carol-password-1")
        form.get_by_role("button", name="Create user").click()
        created = panel.get_by_role("cell", name="carol", exact=True)
        try:
            created.wait_for(timeout=30_000)  # argon2 hashing is slow on a busy machine
        except Exception:
            raise AssertionError(panel.locator(".message").all_text_contents()) from None

        row = panel.get_by_role("row").filter(
            has=page.get_by_role("cell", name="carol", exact=True)
        )
        row.get_by_text("Edit", exact=True).click()
        row.get_by_label("Top up").fill("5")
        row.get_by_role("button", name="Save").click()
        carol = panel.get_by_role("row").filter(
            has=page.get_by_role("cell", name="carol", exact=True)
        )
        expect(carol).to_contain_text("5.000000")
        expect(panel).to_contain_text("Saved “carol”; 5 added to the wallet.")

        # The admin makes carol a key of her own, from her row.
        carol.get_by_text("Edit", exact=True).click()
        carol.get_by_role("link", name="Keys").click()
        page.wait_for_url("**/keys?user=carol")
        expect(page.get_by_role("heading", name="API keys of carol")).to_be_visible()
        form = page.get_by_test_id("create-key")
        form.get_by_label("Name").fill("carol's laptop")
        form.get_by_role("button", name="Create key").click()
        page.get_by_test_id("new-key").wait_for()
        expect(page.get_by_test_id("key-list")).to_contain_text("carol's laptop")
        owned = api(gw, "GET", "/api/keys?user=carol", gw.admin_token).json()
        assert [k["name"] for k in owned] == ["carol's laptop"]
        page.goto("/admin")

        panel = tab(page, "Channels")
        form = panel.get_by_test_id("add-channel")
        form.get_by_label("Name").fill("second")
        form.get_by_label("Base URL").fill(fake_openai[0] + "/v1")
        form.get_by_label("API keys").fill("sk-written-only-9876")
        form.get_by_label("Models", exact=True).fill("fake-model")
        form.get_by_role("button", name="Add channel").click()
        row = panel.get_by_role("row").filter(
            has=page.get_by_role("cell", name="second", exact=True)
        )
        row.wait_for()
        assert "sk-written-only-9876" not in page.content()
        expect(row).to_contain_text("9876")
        row.get_by_role("button", name="Test: second").click()
        expect(row.locator(".test-result")).to_contain_text("OK: fake-model")
        row.get_by_role("button", name="Disable").click()
        row = panel.get_by_role("row").filter(
            has=page.get_by_role("cell", name="second", exact=True)
        )
        expect(row.get_by_role("button", name="Enable")).to_be_visible()

        row.get_by_label("Edit: second").click()
        edit = row.get_by_test_id("edit-channel-second")
        edit.get_by_label("Models", exact=True).fill("fake-model, fake-echo")
        edit.get_by_label("Replace keys").fill("sk-rotated-key-4321")
        edit.get_by_role("button", name="Save").click()
        row = panel.get_by_role("row").filter(
            has=page.get_by_role("cell", name="second", exact=True)
        )
        expect(row).to_contain_text("fake-model, fake-echo")
        expect(row).to_contain_text("4321")
        assert "sk-rotated-key-4321" not in page.content()
        channel = api(gw, "GET", "/api/channels/second", gw.admin_token).json()
        assert channel["models"] == ["fake-model", "fake-echo"] and channel["keys"] == ["…4321"]

        panel = tab(page, "Prices")
        form = panel.get_by_test_id("edit-price")
        form.get_by_label("Model").fill("fake-echo")
        form.get_by_label("Input / 1M", exact=True).fill("1.5")
        form.get_by_label("Output / 1M").fill("3")
        form.get_by_role("button", name="Save").click()
        row = panel.get_by_role("row").filter(has_text="fake-echo")
        expect(row).to_contain_text("1.500000")
        price = api(gw, "GET", "/api/prices/fake-echo", gw.admin_token).json()
        assert price["input"] == "1.500000" and price["output"] == "3.000000"

        panel = tab(page, "Codes")
        form = panel.get_by_test_id("create-codes")
        form.get_by_label("Amount per code").fill("1")
        form.get_by_label("How many").fill("3")
        form.get_by_label("Batch name").fill("launch")
        form.get_by_role("button", name="Create codes").click()
        shown = panel.get_by_test_id("new-codes").locator("pre code")
        shown.wait_for()
        codes = (shown.text_content() or "").split("\n")
        assert len(codes) == 3
        with page.expect_download() as download:
            panel.get_by_role("button", name="Download CSV").click()
        csv = download.value.path().read_text()
        assert all(code in csv for code in codes) and csv.startswith("code,amount")
        # listed masked afterwards
        assert not any(code in (panel.locator("table").text_content() or "") for code in codes)

        panel = tab(page, "System")
        form = panel.get_by_test_id("registration")
        form.get_by_label("Who may create an account").select_option("open")
        form.get_by_role("button", name="Save").click()
        form.get_by_text("Saved.").wait_for()
        assert api(gw, "GET", "/api/settings/registration", gw.admin_token).json()["mode"] == "open"

        for lang in ("en", "vi"):
            if lang == "vi":
                use_language(page, "vi")
            for name in TABS:
                page.goto(f"/admin#{name}")
                page.get_by_role("tabpanel").locator("section").first.wait_for()
                assert unlabelled_controls(page) == [], name
                screenshot(page, f"admin-{name}-{lang}")
    finally:
        page.context.close()
        api(gw, "DELETE", "/api/prices/fake-echo", gw.admin_token)  # the other tests call it
    assert watch.dialogs == [] and watch.errors == [] and watch.foreign == []


def test_registration_from_the_sign_in_page(
    browser: Any, ui_gateway: RunningGateway, watch: Watch
) -> None:
    gw = ui_gateway
    admin = gw.admin_token
    api(gw, "PUT", "/api/settings/registration", admin, json={"mode": "open", "group": None})
    page = new_page(browser, gw, watch, locale="vi-VN")
    try:
        page.goto("/login")
        screenshot(page, "login-vi")
        form = page.get_by_test_id("register-form")
        form.get_by_label("Tên người dùng").fill("dave")
        form.get_by_label("Mật khẩu mới").fill("dave-password-1")
        form.get_by_role("button", name="Tạo tài khoản").click()
        page.wait_for_url("**/keys")
        expect(page.get_by_test_id("who")).to_have_text("dave")
        page.get_by_role("button", name="Đăng xuất").click()
        page.wait_for_url("**/login")
        page.goto("/keys")
        page.wait_for_url(re.compile(r".*/login\?next=/keys$"))
        page.context.clear_cookies()
        page.goto("/login")
        page.locator("#lang-switch").select_option("en")
        page.get_by_role("heading", name="Sign in", exact=True).wait_for()
        screenshot(page, "login-en")
    finally:
        page.context.close()
        api(gw, "PUT", "/api/settings/registration", admin, json={"mode": "off", "group": None})
    assert watch.dialogs == [] and watch.errors == [] and watch.foreign == []

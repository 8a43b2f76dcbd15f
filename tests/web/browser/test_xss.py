"""An XSS corpus (tests/web/xss_payloads.txt, 60 payloads) placed everywhere text from
users, models and admins reaches the pages: user names, key names, model output (through
a fake upstream that answers with the prompt), channel and group model lists (channel
and group names themselves are refused by the API), top-up notes, price
entries and the usage log. Every page is visited as an admin and as a user; nothing may
run: no dialog, no request to the canary server or any other origin, no script error,
no flag set by a payload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import expect

from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, api, fresh_database, start_gateway
from tests.support.web import user_with_password
from tests.web.browser.conftest import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    Canary,
    Watch,
    new_page,
    sign_in_with_key,
    sign_in_with_password,
)

CORPUS = Path(__file__).resolve().parents[1] / "xss_payloads.txt"
ADMIN_PAGES = ["users", "groups", "channels", "prices", "codes", "system"]


def payloads(canary: Canary) -> list[str]:
    lines = CORPUS.read_text("utf-8").splitlines()
    return [line.replace("CANARY", canary.url) for line in lines if line.strip()]


def unique(texts: list[str], limit: int) -> list[str]:
    """Cut to ``limit`` characters, numbered when two would be the same."""
    out: list[str] = []
    for i, text in enumerate(texts):
        cut = text[:limit]
        out.append(cut if cut not in out else f"{cut[: limit - 4]}#{i:03d}")
    return out


@pytest.fixture(scope="module")
def xss_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: tuple[str, Recorder], canary: Canary
) -> Iterator[tuple[RunningGateway, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("xss")
    fake = fake_openai[0] + "/v1"
    gw, server = start_gateway(
        fresh_database("sqlite", tmp, None),
        tmp / "data",
        upstreams=[{"name": "fake", "base_url": fake, "models": ["fake-model", "fake-parrot"]}],
        model_server={"enabled": False},
        web={"login_attempts_per_account": 1000, "login_attempts_per_ip": 1000},
    )
    try:
        keys = plant(gw, payloads(canary), fake)
        yield gw, keys
    finally:
        server.__exit__()


def plant(gw: RunningGateway, corpus: list[str], fake: str) -> dict[str, str]:
    """Put every payload wherever text is shown; returns the keys the test signs in with."""
    admin = gw.admin_token

    def call(method: str, path: str, **kw: Any) -> httpx.Response:
        response = api(gw, method, path, admin, **kw)
        assert response.status_code < 300, (path, response.text)
        return response

    user_with_password(gw, ADMIN_NAME, ADMIN_PASSWORD, role="admin")
    call("POST", "/api/users", json={"name": "owner"})
    owner = call("POST", "/api/keys", json={"user": "owner", "name": "owner"}).json()["key"]
    for name in unique(corpus, 128):
        call("POST", "/api/keys", json={"user": "owner", "name": name})
    for i, note in enumerate(corpus[:20]):
        call("POST", "/api/wallets/owner/topup", json={"amount": f"0.0{i % 9 + 1}", "note": note})
    names = unique(corpus, 64)
    for name in names:
        call("POST", "/api/users", json={"name": name})
    batch = {"amount": "0.01", "count": 1, "batch": corpus[0]}
    assert api(gw, "POST", "/api/codes", admin, json=batch).status_code == 400
    refused = api(gw, "POST", "/api/groups", admin, json={"name": corpus[0]})
    assert refused.status_code == 400  # group names are plain identifiers
    call("POST", "/api/groups", json={"name": "xss", "models": unique(corpus, 128)})
    for model in unique(corpus, 128):
        call("PUT", f"/api/prices/{quote(model.strip() or 'x', safe='')}", json={"input": "1"})
    refused = api(gw, "POST", "/api/channels", admin, json={"name": corpus[0], "base_url": fake})
    assert refused.status_code == 400  # channel names are plain identifiers
    channel_models = [m for m in unique(corpus, 128) if m.strip()]
    call("POST", "/api/channels", json={"name": "xss", "base_url": fake, "models": channel_models})
    call("PUT", f"/api/prices/{quote('fake-parrot', safe='')}", json={"input": "0"})
    # the usage log gets rows whose model names are payloads
    for model in channel_models[:5]:
        httpx.post(
            gw.url + "/v1/chat/completions",
            headers={"authorization": f"Bearer {owner}"},
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        )
    victim = call("POST", "/api/keys", json={"user": names[0], "name": "victim"}).json()["key"]
    return {"owner": owner, "named": victim}


def visit(page: Any, path: str) -> None:
    page.goto(path)
    assert "/login" not in page.url or path == "/login", (path, page.url)
    page.wait_for_selector("main:not([aria-busy]) h1")
    if path.startswith("/admin"):
        panel = page.get_by_role("tabpanel")
        try:
            panel.locator("section").first.wait_for()
        except Exception:
            raise AssertionError(f"{path}: {page.locator('main').text_content()}") from None
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__xss") is None, path


def test_no_payload_runs_anywhere(
    xss_gateway: tuple[RunningGateway, dict[str, str]],
    browser: Any,
    watch: Watch,
    canary: Canary,
) -> None:
    gw, keys = xss_gateway
    corpus = payloads(canary)
    assert len(corpus) >= 50

    page = new_page(browser, gw, watch, locale="en-US")
    try:
        sign_in_with_password(page, ADMIN_NAME, ADMIN_PASSWORD, next_path="/admin")
        for path in ["/", "/models", "/keys", "/usage", "/wallet", "/guides"]:
            visit(page, path)
        for name in ADMIN_PAGES:
            visit(page, f"/admin#{name}")
            page.reload()
            visit(page, f"/admin#{name}")
        # the payloads are there, as text
        page.goto("/admin#users")
        expect(
            page.get_by_role("cell", name="<script>alert(1)</script>", exact=True)
        ).to_be_visible()
    finally:
        page.context.close()

    page = new_page(browser, gw, watch, locale="vi-VN")
    try:
        sign_in_with_key(page, keys["owner"])
        for path in ["/keys", "/wallet", "/usage", "/guides", "/models", "/"]:
            visit(page, path)
        page.goto("/keys")
        form = page.get_by_test_id("create-key")
        form.get_by_label("Tên").fill("<img src=x onerror=window.__xss=1>")
        form.get_by_role("button").click()
        shown = page.get_by_test_id("new-key")
        shown.get_by_label("Mô hình").select_option("fake-parrot")
        prompt = shown.get_by_label("Tin nhắn")
        answer = page.get_by_test_id("answer")
        for start in range(0, len(corpus), 20):  # model output: the payloads as Markdown
            prompt.fill("\n\n".join(corpus[start : start + 20]))
            shown.get_by_role("button", name="Gửi tới /v1/chat/completions").click()
            expect(answer.locator(".markdown")).to_contain_text("alert(1)")
            page.wait_for_load_state("networkidle")
            assert page.evaluate("window.__xss") is None
            assert answer.locator("script, img, iframe, svg, object, embed, style").count() == 0
    finally:
        page.context.close()

    page = new_page(browser, gw, watch, locale="en-US")
    try:
        sign_in_with_key(page, keys["named"])  # a user whose name is a payload
        expect(page.get_by_test_id("who")).to_have_text("<script>alert(1)</script>")
        for path in ["/keys", "/wallet", "/login"]:
            visit(page, path)
    finally:
        page.context.close()

    assert watch.dialogs == []
    assert canary.hits == []
    assert watch.errors == []
    assert watch.foreign == []

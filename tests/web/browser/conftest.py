"""Browser tests: one gateway (SQLite, fake OpenAI upstream) and one Debian Chromium for
the whole session, driven by Playwright for Python (never Playwright's own browsers).
Each test gets a fresh browser context (no cookies) that records dialogs, page errors
and any request leaving the gateway's origin."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, fresh_database, start_gateway
from tests.support.servers import ServerThread
from tests.support.web import user_with_password

ADMIN_NAME = "root"
ADMIN_PASSWORD = "correct horse battery staple"
CHROMIUM = os.environ.get("CONG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "build" / "screenshots"


@dataclass
class Canary:
    """A server that XSS payloads try to reach: any hit means a payload ran."""

    url: str = ""
    hits: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def canary() -> Iterator[Canary]:
    found = Canary()

    async def hit(request: Request) -> PlainTextResponse:
        found.hits.append(str(request.url))
        return PlainTextResponse("")

    app = Starlette(routes=[Route("/{path:path}", hit, methods=["GET", "POST"])])
    with ServerThread(app) as server:
        found.url = server.url
        yield found


@pytest.fixture(scope="session")
def ui_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: tuple[str, Recorder]
) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp("web")
    fake = fake_openai[0] + "/v1"
    running, server = start_gateway(
        fresh_database("sqlite", tmp, None),
        tmp / "data",
        upstreams=[
            {
                "name": "fake",
                "base_url": fake,
                "api_key": "sk-upstream-secret-value",
                "models": ["fake-model", "fake-echo", "fake-parrot"],
                "embedding_models": ["fake-embed"],
            }
        ],
        model_server={"enabled": False},
        aliases={"gpt-4o": "fake-model"},
        # every test signs in from 127.0.0.1: keep the sign-in limits out of the way
        web={"login_attempts_per_account": 1000, "login_attempts_per_ip": 1000},
    )
    user_with_password(running, ADMIN_NAME, ADMIN_PASSWORD, role="admin")
    try:
        yield running
    finally:
        server.__exit__()


@pytest.fixture(scope="module")
def browser(ui_gateway: RunningGateway, canary: Canary) -> Iterator[Any]:
    """One Chromium per test module, started after the servers and closed with the
    module: while Playwright's sync API is open it keeps an event loop running in this
    thread, where other tests' set-up could no longer call asyncio.run()."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watch:
    """What a page did that it should not: dialogs, script errors, blocked by the
    Content-Security-Policy, requests to other origins."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


@pytest.fixture
def watch() -> Watch:
    return Watch()


def new_page(browser: Any, gateway: RunningGateway, watch: Watch, **options: Any) -> Any:
    context = browser.new_context(base_url=gateway.url, **options)
    context.set_default_timeout(20_000)
    page = context.new_page()

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    # Something the Content-Security-Policy had to stop (an inline handler, a foreign
    # image) means text became markup somewhere: a failure even though it did not run.
    page.on(
        "console",
        lambda message: (
            watch.errors.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((gateway.url, "data:", "blob:"))
            else watch.foreign.append(request.url)
        ),
    )
    return page


@pytest.fixture
def page(browser: Any, ui_gateway: RunningGateway, watch: Watch) -> Iterator[Any]:
    page = new_page(browser, ui_gateway, watch)
    try:
        yield page
    finally:
        page.context.close()


def screenshot(page: Any, name: str) -> None:
    """Full-page screenshot into build/screenshots/ (gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in_with_password(page: Any, name: str, password: str, next_path: str = "/keys") -> None:
    page.goto(f"/login?next={next_path}")
    form = page.get_by_test_id("password-form")
    form.get_by_label(re.compile("User name|Tên người dùng")).fill(name)
    form.get_by_label(re.compile("^(Password|Mật khẩu)$")).fill(password)
    signed_in(page, form, next_path)


def signed_in(page: Any, form: Any, next_path: str) -> None:
    """Submit the sign-in form and wait for the page it leads to (or fail with the
    form's message)."""
    origin = page.url.split("/login")[0]
    form.get_by_role("button").click()
    target = re.compile("^" + re.escape(origin + next_path) + "$")
    try:
        page.wait_for_url(target, wait_until="commit", timeout=40_000)
    except Exception:
        message = form.locator(".message").all_text_contents() if "/login" in page.url else []
        raise AssertionError(f"sign-in did not reach {next_path}: {page.url} {message}") from None


def sign_in_with_key(page: Any, key: str, next_path: str = "/keys") -> None:
    page.goto(f"/login?next={next_path}")
    form = page.get_by_test_id("key-form")
    form.get_by_label(re.compile("API key|Khóa API")).fill(key)
    signed_in(page, form, next_path)


def use_language(page: Any, lang: str) -> None:
    """Pick a language with the switch in the header and wait for the page to redraw."""
    page.locator("#lang-switch").select_option(lang)
    page.wait_for_function("lang => document.documentElement.lang === lang", arg=lang)
    page.wait_for_selector("main:not([aria-busy])")


UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
    && !el.getAttribute("aria-labelledby") && !(el.tagName === "BUTTON" && el.textContent.trim()))
  .map((el) => el.outerHTML.slice(0, 100))"""


def unlabelled_controls(page: Any) -> list[str]:
    """Form controls a screen reader could not name (should be none)."""
    found: list[str] = page.evaluate(UNLABELLED)
    return found

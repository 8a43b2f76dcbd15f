"""Browser tests: one gateway (SQLite, fake OpenAI upstream) and one Debian Chromium for
the whole session, driven by Playwright for Python (never Playwright's own browsers).
Each test gets a fresh browser context (no cookies) that records dialogs, page errors
and any request leaving the gateway's origin."""

from __future__ import annotations

import os
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

CHROMIUM = os.environ.get("CONG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"



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
def web_gateway(
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
                "models": ["fake-model", "fake-echo"],
                "embedding_models": ["fake-embed"],
            }
        ],
        model_server={"enabled": False},
        aliases={"gpt-4o": "fake-model"},
    )
    try:
        yield running
    finally:
        server.__exit__()


@pytest.fixture(scope="session")
def browser(web_gateway: RunningGateway, canary: Canary) -> Iterator[Any]:
    """Started after the servers: Playwright's sync API keeps an event loop running in
    this thread, where set-up code could no longer call asyncio.run()."""
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
    """What a page did that it should not: dialogs, script errors, foreign requests."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


@pytest.fixture
def watch() -> Watch:
    return Watch()


def new_page(browser: Any, gateway: RunningGateway, watch: Watch, **options: Any) -> Any:
    context = browser.new_context(base_url=gateway.url, **options)
    context.set_default_timeout(10_000)
    page = context.new_page()

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
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
def page(browser: Any, web_gateway: RunningGateway, watch: Watch) -> Iterator[Any]:
    page = new_page(browser, web_gateway, watch)
    try:
        yield page
    finally:
        page.context.close()


def screenshot(page: Any, name: str) -> None:
    """Full-page screenshot into build/screenshots/ (gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

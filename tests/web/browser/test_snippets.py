"""The snippets the pages generate really work against this server: the docs page's
curl, Python (openai SDK) and browser JavaScript for chat, streaming and embeddings, and
the guides page's OpenAI Python SDK set-up with a pasted key, are run as shown."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from tests.support.gateway import RunningGateway
from tests.web.browser.conftest import Watch, new_page


def shown_snippet(page: Any, kind: str, lang: str) -> str:
    page.get_by_role("group", name="Task").get_by_role("button", name=kind).click()
    page.get_by_role("group", name="Language", exact=True).get_by_role("button", name=lang).click()
    text = page.locator("section", has_text="Code snippets").locator("pre code").text_content()
    assert text
    return text


def run(command: list[str], key: str) -> str:
    env = {**os.environ, "CONG_API_KEY": key}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def docs(browser: Any, ui_gateway: RunningGateway, watch: Watch) -> Any:
    page = new_page(browser, ui_gateway, watch, locale="en-US")
    page.goto("/")
    page.get_by_role("group", name="Models").get_by_role("button", name="fake-model").click()
    yield page
    page.context.close()


def test_docs_snippets_run_as_shown(docs: Any, ui_gateway: RunningGateway) -> None:
    key = ui_gateway.create_key("snippets")
    python = sys.executable
    assert run([python, "-c", shown_snippet(docs, "Chat", "Python")], key) == "Hello from fake\n"
    streamed = run([python, "-c", shown_snippet(docs, "Streaming", "Python")], key)
    assert streamed == "Hello from fake"
    assert run(["bash", "-c", shown_snippet(docs, "Chat", "curl")], key).count("Hello from fake")

    docs.get_by_role("group", name="Models").get_by_role("button", name="fake-embed").click()
    length = run([python, "-c", shown_snippet(docs, "Embeddings", "Python")], key)
    assert int(length) > 0

    docs.get_by_role("group", name="Models").get_by_role("button", name="fake-model").click()
    script = shown_snippet(docs, "Chat", "JavaScript (browser)").replace("YOUR_CONG_API_KEY", key)
    with docs.expect_console_message() as logged:
        docs.evaluate(f"async () => {{ {script} }}")
    assert logged.value.text == "Hello from fake"


def test_guide_for_the_openai_python_sdk_runs_with_the_pasted_key(
    browser: Any, ui_gateway: RunningGateway, watch: Watch
) -> None:
    key = ui_gateway.create_key("guide")
    page = new_page(browser, ui_gateway, watch, locale="en-US")
    try:
        page.goto("/guides")
        page.get_by_label("Model", exact=True).select_option("fake-model")
        page.get_by_label("Paste the key to fill it in (optional)").fill(key)
        guide = page.get_by_test_id("guide-openai_python").locator("pre code").text_content()
        assert guide and key in guide
        assert run([sys.executable, "-c", guide], "unused") == "Hello from fake\n"
    finally:
        page.context.close()
    assert watch.errors == [] and watch.foreign == []

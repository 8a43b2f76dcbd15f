"""The snippets the pages generate really work against this server: the docs page's
curl, Python (openai SDK) and browser JavaScript for chat, streaming and embeddings, and
the guides page's OpenAI Python SDK set-up with a pasted key, are run as shown; the
Claude Code and Codex guides' settings drive the SDKs speaking those tools' APIs
(Anthropic Messages, OpenAI Responses) to an answer."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from typing import Any

import openai
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

    # The model tags are chat models; the embeddings snippet names an embedding model.
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


CLAUDE = """
import anthropic, os
client = anthropic.Anthropic(max_retries=0)
message = client.messages.create(
    model=os.environ["ANTHROPIC_MODEL"], max_tokens=32,
    messages=[{"role": "user", "content": "hi"}],
)
print(message.content[0].text)
"""


def test_guides_for_claude_code_and_codex_work_as_shown(
    browser: Any, ui_gateway: RunningGateway, watch: Watch
) -> None:
    """Claude Code's variables (the anthropic SDK reads the same ones) and Codex's model
    provider (base URL, key variable, Responses wire API) reach an answer with the key."""
    key = ui_gateway.create_key("agents")
    page = new_page(browser, ui_gateway, watch, locale="en-US")
    try:
        page.goto("/guides")
        page.get_by_label("Model", exact=True).select_option("fake-model")
        page.get_by_label("Paste the key to fill it in (optional)").fill(key)
        shell = page.get_by_test_id("guide-claude_code").locator("pre code").text_content()
        codex = page.get_by_test_id("guide-codex").locator("pre code").text_content()
    finally:
        page.context.close()
    assert watch.errors == [] and watch.foreign == []
    assert shell and codex and key in shell and key in codex
    assert shell.splitlines()[-1] == "claude"
    exports = [line.removeprefix("export ").split("=", 1) for line in shell.splitlines()[:-1]]
    env = {name: value.strip('"') for name, value in exports}
    assert env["ANTHROPIC_BASE_URL"] == ui_gateway.url
    assert env["ANTHROPIC_AUTH_TOKEN"] == key and env["ANTHROPIC_MODEL"] == "fake-model"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    done = subprocess.run(
        [sys.executable, "-c", CLAUDE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello from fake\n"

    config = tomllib.loads(codex)
    provider = config["model_providers"][config["model_provider"]]
    assert provider["wire_api"] == "responses" and provider["base_url"] == ui_gateway.base_url
    assert f"export {provider['env_key']}={key}" in codex
    client = openai.OpenAI(base_url=provider["base_url"], api_key=key, max_retries=0)
    answer = client.responses.create(model=config["model"], input="hi", store=False)
    assert answer.output_text == "Hello from fake"

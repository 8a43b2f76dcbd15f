"""/api/openapi.json documents every route, /v1 included; /api/docs and /api/redoc are
served entirely by the gateway (vendored, pinned assets; no CDN; no inline script)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx

from cong.http import (
    file_routes,
    memory_chat,
    messages_routes,
    openai_routes,
    responses_routes,
)
from tests.support.gateway import RunningGateway
from tests.support.web import Browser, user_with_password

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "src" / "cong" / "http" / "static" / "vendor"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_openapi_documents_v1_and_how_to_authenticate(sqlite_gateway: RunningGateway) -> None:
    spec = httpx.get(sqlite_gateway.url + "/api/openapi.json").json()
    paths = spec["paths"]
    v1 = {**openai_routes.exact_routes}
    v1.update({prefix + "{model}": m for prefix, m in openai_routes.model_routes.items()})
    for path, methods in v1.items():
        for method in methods:
            operation = paths[path][method.lower()]
            assert operation["summary"] and operation["security"] == [{"apiKey": []}], path
            assert "429" in operation["responses"] and "401" in operation["responses"]
    chat = paths["/v1/chat/completions"]["post"]
    assert chat["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ConversationChatRequest"
    )
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    schemas = spec["components"]["schemas"]
    # OpenAI's request, and the memory token's conversation continued by id (docs/memory.md)
    chat_fields = set(schemas["ConversationChatRequest"]["properties"])
    assert {"messages", "model", "tools", "stream", "conversation_id"} <= chat_fields
    assert [(p["name"], p["in"]) for p in chat["parameters"]] == [("X-Conversation-Id", "header")]
    assert {"X-Conversation-Id", "X-Memories-Used"} <= set(chat["responses"]["200"]["headers"])
    assert {"context_length", "pricing", "capabilities"} <= set(schemas["V1Model"]["properties"])
    for ref in _refs(spec):  # every reference resolves
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert set(spec["components"]["securitySchemes"]) == {"apiKey", "session"}
    assert spec["components"]["securitySchemes"]["session"]["name"] == "cong_session"
    assert paths["/api/session"]["post"]["security"] == []
    assert "security" not in paths["/api/users"]["get"]  # the global rule: key or session
    for path in ("/api/usage/daily", "/api/usage/export.csv", "/api/models", "/api/me/password"):
        assert path in paths, path
    for path, item in paths.items():
        for method, operation in item.items():
            assert operation.get("summary"), (method, path)


def test_every_endpoint_served_outside_fastapi_is_documented(
    sqlite_gateway: RunningGateway,
) -> None:
    paths = httpx.get(sqlite_gateway.url + "/api/openapi.json").json()["paths"]
    served = {**openai_routes.exact_routes, **messages_routes.routes}
    for routes in (responses_routes, file_routes, memory_chat):
        served.update(routes.exact_routes)
    for path, methods in served.items():
        for method in methods:
            assert method.lower() in paths.get(path, {}), (method, path)


def test_the_web_chat_endpoint_is_documented_as_it_answers(
    sqlite_gateway: RunningGateway,
) -> None:
    """``/api/chat/completions`` in the reference: OpenAI's chat request plus
    ``conversation_id``, a key or the session + CSRF token, JSON or a stream, the chat
    errors, ``X-Conversation-Id`` both ways; and a session calling it gets what the
    document says."""
    gw = sqlite_gateway
    spec = httpx.get(gw.url + "/api/openapi.json").json()
    chat = spec["paths"]["/api/chat/completions"]["post"]
    assert "security" not in chat  # the global rule: a key, or the session (+ CSRF)
    ref = chat["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = spec["components"]["schemas"][ref.removeprefix("#/components/schemas/")]
    assert {"model", "messages", "stream", "tools", "conversation_id"} <= set(body["properties"])
    assert {"model", "messages"} <= set(body["required"])
    ok = chat["responses"]["200"]
    assert {"application/json", "text/event-stream"} <= set(ok["content"])
    assert "X-Conversation-Id" in ok["headers"]
    assert {"400", "401", "402", "403", "404", "413", "429", "502", "503"} <= set(chat["responses"])
    assert [(p["name"], p["in"]) for p in chat["parameters"]] == [("X-Conversation-Id", "header")]

    user_with_password(gw, "doc-chat", "doc-chat-password-1")
    browser = Browser(gw)
    try:
        assert browser.sign_in(username="doc-chat", password="doc-chat-password-1").is_success
        hello = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
        refused = browser.call("POST", "/api/chat/completions", csrf=False, json=hello)
        assert refused.status_code == 403 and refused.json()["error"]["message"]
        first = browser.call("POST", "/api/chat/completions", json=hello)
        assert first.status_code == 200, first.text
        conversation = first.headers["x-conversation-id"]
        assert first.json()["conversation_id"] == conversation
        again = {**hello, "conversation_id": conversation}
        second = browser.call("POST", "/api/chat/completions", json=again)
        assert second.headers["x-conversation-id"] == conversation
        unknown = {**hello, "conversation_id": "conv_nowhere"}
        assert browser.call("POST", "/api/chat/completions", json=unknown).status_code == 404
    finally:
        browser.close()


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.links: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts.append(values)
            self._in_script = True
        if tag == "link" and values.get("href"):
            self.links.append(str(values["href"]))

    def handle_endtag(self, tag: str) -> None:
        self._in_script = tag != "script" and self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def test_docs_pages_work_offline(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    for page in ("/api/docs", "/api/redoc"):
        response = httpx.get(gw.url + page)
        assert response.status_code == 200 and "text/html" in response.headers["content-type"]
        csp = response.headers["content-security-policy"]
        assert (
            "script-src 'self'" in csp
            and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        )
        parsed = _Page()
        parsed.feed(response.text)
        assert parsed.scripts and not parsed.inline  # no inline script
        assert not re.search(r"https?://", response.text)  # nothing from another host
        for url in [str(s["src"]) for s in parsed.scripts] + parsed.links:
            asset = httpx.get(gw.url + url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 1000 or url.endswith("init.js"), url
    bundle = httpx.get(gw.url + "/api/docs/vendor/swagger-ui/swagger-ui-bundle.js")
    assert "javascript" in bundle.headers["content-type"]


def test_vendored_assets_are_pinned_with_their_licenses() -> None:
    lock = json.loads((ROOT / "frontend" / "api-docs" / "package-lock.json").read_text())
    manifest = json.loads((ROOT / "frontend" / "api-docs" / "package.json").read_text())
    for package, folder in (("swagger-ui-dist", "swagger-ui"), ("redoc", "redoc")):
        pinned = manifest["dependencies"][package]
        assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), package  # an exact version
        locked = lock["packages"][f"node_modules/{package}"]
        assert locked["version"] == pinned and locked["integrity"].startswith("sha512-")
        version = (VENDOR / folder / "VERSION").read_text()
        assert f"{package} {pinned}" in version and locked["integrity"] in version
        assert (VENDOR / folder / "LICENSE").stat().st_size > 500

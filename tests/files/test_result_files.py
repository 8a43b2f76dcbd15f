"""Result files: a tool-capable model offered ``create_file`` makes files that the
gateway stores for the user (one ZIP for several); the answer carries their ids and
links (``cong_files`` and a line of text), the client never sees the internal tool; a
model without tools writes named code blocks instead; a full quota loses nothing."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import httpx
import orjson
import pytest

from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, api, auth
from tests.support.web import Browser, fresh_ip, user_with_password

ASK = "Viết giúp tôi hai tệp: một script Python và một bảng CSV."
FILES = {"hello.py": 'print("xin chào")\n', "số liệu.csv": "tháng,doanh thu\n1,1500\n"}


def chat(gw: RunningGateway, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/chat/completions",
        headers=auth(key or gw.admin_token),
        json=body,
        timeout=60,
    )


def download(gw: RunningGateway, url: str, key: str | None = None) -> bytes:
    assert url.startswith("https://cong.example/v1/files/")
    local = gw.url + url.removeprefix("https://cong.example")
    response = httpx.get(local, headers=auth(key or gw.admin_token))
    assert response.status_code == 200, response.text
    return response.content


def check_files(gw: RunningGateway, made: list[dict[str, Any]], text: str) -> None:
    """Two files and their ZIP, downloadable, and linked in the text."""
    assert [(m["filename"], m["kind"]) for m in made] == [
        ("hello.py", "file"),
        ("số liệu.csv", "file"),
        ("files.zip", "zip"),
    ]
    for entry in made[:2]:
        data = download(gw, entry["download_url"])
        assert data.decode() == FILES[entry["filename"]] and entry["bytes"] == len(data)
        assert entry["id"].startswith("file-")
    archive = zipfile.ZipFile(io.BytesIO(download(gw, made[2]["download_url"])))
    assert {n: archive.read(n).decode() for n in archive.namelist()} == FILES
    for entry in made:
        assert f"[{entry['filename']}]({entry['download_url']})" in text
    listed = httpx.get(
        gw.base_url + "/files?purpose=assistants_output", headers=auth(gw.admin_token)
    ).json()["data"]
    assert {f["filename"] for f in listed} >= {"hello.py", "số liệu.csv", "files.zip"}


def test_a_json_answer_carries_the_files_and_hides_the_tool(
    files_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    recorder = fake_openai[1]
    sent = len(recorder.requests)
    response = chat(
        files_gateway, {"model": "fake-files", "messages": [{"role": "user", "content": ASK}]}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    message = answer["choices"][0]["message"]
    assert "tool_calls" not in message and answer["choices"][0]["finish_reason"] == "stop"
    assert message["content"].startswith("Done: Saved hello.py (19 bytes).")
    check_files(files_gateway, answer["cong_files"], message["content"])
    # Two rounds upstream: the tool offered, then its results; usage is their sum.
    first, second = recorder.requests[sent:]
    assert [t["function"]["name"] for t in first["tools"]] == ["create_file"]
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool", "tool"]
    assert answer["usage"]["prompt_tokens"] == 20 + 9
    assert answer["usage"]["completion_tokens"] == 8 + 3


def sse_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    lines = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [orjson.loads(line) for line in lines[:-1]]


def test_a_stream_ends_with_the_files_before_done(
    files_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    fake_openai[1].one_file_per_answer = True  # one call per answer: three rounds
    body = {
        "model": "fake-files",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": ASK}],
    }
    response = chat(files_gateway, body)
    assert response.status_code == 200
    chunks = sse_chunks(response)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert not any("tool_calls" in d for d in deltas)
    assert sum(1 for d in deltas if "role" in d) == 1
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert [f for f in finishes if f] == ["stop"]
    text = "".join(d.get("content") or "" for d in deltas)
    assert text.startswith("Done: Saved hello.py") and "Saved số liệu.csv" in text
    last = chunks[-1]
    assert last["usage"]["prompt_tokens"] == 20 + 20 + 9  # three rounds
    check_files(files_gateway, last["cong_files"], text)
    assert all("cong_files" not in c for c in chunks[:-1])


def test_a_model_without_tools_writes_named_blocks_that_become_files(
    files_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    gw = files_gateway
    changed = api(
        gw, "PUT", "/api/models/fake-files", gw.admin_token, json={"capabilities": ["chat"]}
    )
    assert changed.status_code == 200, changed.text
    response = chat(gw, {"model": "fake-files", "messages": [{"role": "user", "content": ASK}]})
    assert response.status_code == 200, response.text
    seen = fake_openai[1].requests[-1]
    assert "tools" not in seen
    hint = seen["messages"][0]
    assert hint["role"] == "system" and 'title="' in hint["content"]
    answer = response.json()
    content = answer["choices"][0]["message"]["content"]
    assert content.startswith("Here are your files.")
    check_files(gw, answer["cong_files"], content)


@pytest.mark.files_settings(user_quota_bytes=30)
def test_a_full_quota_keeps_the_answer_and_says_so(
    files_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    response = chat(
        files_gateway, {"model": "fake-files", "messages": [{"role": "user", "content": ASK}]}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    content = answer["choices"][0]["message"]["content"]
    made = answer["cong_files"]
    assert [m["filename"] for m in made] == ["hello.py"]  # 19 bytes fit, 26 more do not
    assert "⚠ số liệu.csv: storage quota exceeded" in content
    assert '``` title="số liệu.csv"\ntháng,doanh thu\n1,1500\n```' in content  # not lost
    assert (
        "Not saved: storage quota exceeded"
        in fake_openai[1].requests[-1]["messages"][-1]["content"]
    )


def test_no_offer_without_files_or_with_the_clients_own_tools(
    files_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    recorder = fake_openai[1]
    plain = chat(
        files_gateway, {"model": "fake-model", "messages": [{"role": "user", "content": "Chào"}]}
    )
    assert plain.status_code == 200 and "cong_files" not in plain.json()
    assert "tools" not in recorder.requests[-1]
    # Nor on a web chat message that neither has files nor asks for them.
    user_with_password(files_gateway, "thu", "a-long-password-1")
    browser = Browser(files_gateway, fresh_ip())
    assert browser.sign_in(username="thu", password="a-long-password-1").status_code == 200
    web = browser.call(
        "POST",
        "/api/chat/completions",
        json={"model": "fake-tools", "messages": [{"role": "user", "content": "Chào bạn"}]},
    )
    browser.close()
    assert web.status_code == 200, web.text
    assert "tools" not in recorder.requests[-1]
    assert not any(m["role"] == "system" for m in recorder.requests[-1]["messages"])
    weather = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
    own = chat(
        files_gateway,
        {"model": "fake-tools", "tools": [weather], "messages": [{"role": "user", "content": ASK}]},
    )
    assert own.status_code == 200
    assert [t["function"]["name"] for t in recorder.requests[-1]["tools"]] == ["get_weather"]
    calls = own.json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_weather"]

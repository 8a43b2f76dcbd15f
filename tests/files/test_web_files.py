"""/api/files: the Files API of /v1/files for the web pages, signed in with the session
cookie. Changes need the session's CSRF token; a key works too; the files are the same
files (a file uploaded from the web is the user's file for their keys, and the other way
round); /api/me/storage tells the limits."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, auth, fresh_database, start_gateway
from tests.support.openapi_spec import validate_schema
from tests.support.web import Browser, user_with_password

PASSWORD = "a-long-password-for-lan"


@pytest.fixture(scope="module")
def web_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: tuple[str, Recorder]
) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp("webfiles")
    running, server = start_gateway(
        fresh_database("sqlite", tmp, None),
        tmp / "data",
        model_server={"enabled": False},
        files={"max_file_bytes": 4096, "user_quota_bytes": 6000},
    )
    try:
        yield running
    finally:
        server.__exit__()


def signed_in(gw: RunningGateway, name: str) -> Browser:
    user_with_password(gw, name, PASSWORD)
    browser = Browser(gw)
    assert browser.sign_in(username=name, password=PASSWORD).status_code == 200
    return browser


def post_file(browser: Browser, name: str, data: bytes, *, csrf: bool = True) -> httpx.Response:
    return browser.call(
        "POST",
        "/api/files",
        csrf=csrf,
        files={"file": (name, data, "text/plain")},
        data={"purpose": "user_data"},
    )


def test_the_session_uploads_lists_reads_and_deletes(web_gateway: RunningGateway) -> None:
    gw = web_gateway
    lan = signed_in(gw, "lan")
    made = post_file(lan, "ghi chú.txt", "Xin chào\n".encode())
    assert made.status_code == 200, made.text
    validate_schema(made.json(), "OpenAIFile")
    file_id = made.json()["id"]
    listing = lan.call("GET", "/api/files").json()
    validate_schema(listing, "ListFilesResponse")
    assert [f["id"] for f in listing["data"]] == [file_id]
    assert lan.call("GET", f"/api/files/{file_id}").json()["filename"] == "ghi chú.txt"
    content = lan.call("GET", f"/api/files/{file_id}/content")
    assert content.content == "Xin chào\n".encode()
    assert content.headers["content-security-policy"].startswith("default-src 'none'")

    # the same file, seen by the user's key on /v1
    key = gw.create_key("lan")
    seen = httpx.get(f"{gw.base_url}/files/{file_id}", headers=auth(key))
    assert seen.status_code == 200 and seen.json()["id"] == file_id

    storage = lan.call("GET", "/api/me/storage").json()
    assert storage == {"max_file_bytes": 4096, "quota_bytes": 6000, "used_bytes": 10}

    deleted = lan.call("DELETE", f"/api/files/{file_id}")
    assert deleted.json() == {"id": file_id, "object": "file", "deleted": True}
    assert lan.call("GET", "/api/files").json()["data"] == []
    lan.close()


def test_changes_need_the_csrf_token_and_reads_need_a_session(
    web_gateway: RunningGateway,
) -> None:
    gw = web_gateway
    minh = signed_in(gw, "minh")
    refused = post_file(minh, "a.txt", b"no token", csrf=False)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    kept = post_file(minh, "a.txt", b"with token").json()["id"]
    no_token_delete = minh.call("DELETE", f"/api/files/{kept}", csrf=False)
    assert no_token_delete.status_code == 403
    assert minh.call("GET", f"/api/files/{kept}").status_code == 200  # a read needs none
    assert minh.call("GET", "/api/files").json()["data"][0]["id"] == kept

    anonymous = httpx.get(gw.url + "/api/files")
    assert anonymous.status_code == 401
    # the cookie is not a key: /v1 still wants one
    v1 = minh.call("GET", "/v1/files")
    assert v1.status_code == 401
    minh.close()


def test_a_key_works_on_api_files_and_users_stay_apart(web_gateway: RunningGateway) -> None:
    gw = web_gateway
    hai = signed_in(gw, "hai")
    mine = post_file(hai, "hai.txt", b"hai's").json()["id"]
    other = gw.create_key("tuan")
    by_key = httpx.post(
        gw.url + "/api/files",
        headers=auth(other),
        files={"file": ("t.txt", b"tuan's", "text/plain")},
        data={"purpose": "user_data"},
    )
    assert by_key.status_code == 200, by_key.text
    for method, path in (
        ("GET", f"/api/files/{mine}"),
        ("GET", f"/api/files/{mine}/content"),
        ("DELETE", f"/api/files/{mine}"),
    ):
        response = httpx.request(method, gw.url + path, headers=auth(other))
        assert response.status_code == 404, (method, path)
    assert [f["id"] for f in hai.call("GET", "/api/files").json()["data"]] == [mine]
    hai.close()


def test_limits_hold_on_the_web_too(web_gateway: RunningGateway) -> None:
    gw = web_gateway
    vy = signed_in(gw, "vy")
    big = post_file(vy, "big.txt", b"x" * 4097)
    assert big.status_code == 413 and big.json()["error"]["code"] == "file_too_large"
    assert post_file(vy, "one.txt", b"y" * 4000).status_code == 200
    full = post_file(vy, "two.txt", b"y" * 2500)
    assert full.status_code == 413 and full.json()["error"]["code"] == "storage_quota_exceeded"
    assert [f["filename"] for f in vy.call("GET", "/api/files").json()["data"]] == ["one.txt"]
    assert vy.call("GET", "/api/me/storage").json()["used_bytes"] == 4000
    vy.close()

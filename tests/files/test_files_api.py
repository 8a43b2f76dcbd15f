"""OpenAI's Files API on /v1: the official SDK works against it, the shapes match the
official spec, contents come back as sandboxed downloads, files are stored under their
generated ids, and another user's file does not exist."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.fakes.openai_upstream import Recorder
from tests.files import corpus
from tests.support.gateway import RunningGateway, auth, fresh_database, start_gateway
from tests.support.openapi_spec import validate_schema


def client(gw: RunningGateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=key or gw.admin_token, max_retries=0)


def stored(gw: RunningGateway) -> list[Path]:
    root = gw.settings.files_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(
    gw: RunningGateway, name: str, data: bytes, purpose: str = "user_data", **kw: object
) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/files",
        headers=auth(str(kw.get("token", gw.admin_token))),
        files={"file": (name, data, str(kw.get("content_type", "text/plain")))},
        data={"purpose": purpose},
    )


def test_sdk_round_trip_matches_spec(gateway: RunningGateway) -> None:
    sdk = client(gateway)
    created = sdk.files.create(file=("Báo cáo quý.txt", "Xin chào\n".encode()), purpose="user_data")
    assert created.filename == "Báo cáo quý.txt" and created.bytes == len("Xin chào\n".encode())
    assert created.id.startswith("file-") and created.purpose == "user_data"
    second = sdk.files.create(file=("b.csv", b"a,b\n1,2\n"), purpose="assistants")

    headers = auth(gateway.admin_token)
    raw = httpx.get(f"{gateway.base_url}/files/{created.id}", headers=headers).json()
    validate_schema(raw, "OpenAIFile")
    listing = httpx.get(gateway.base_url + "/files", headers=headers).json()
    validate_schema(listing, "ListFilesResponse")
    assert [f["id"] for f in listing["data"]] == [second.id, created.id]  # newest first
    assert [f.id for f in sdk.files.list(purpose="assistants")] == [second.id]
    page = sdk.files.list(limit=1, order="asc")
    assert [f.id for f in page.data] == [created.id] and page.has_more

    assert sdk.files.content(created.id).read() == "Xin chào\n".encode()
    # on disk: only the generated ids, never the client's names
    assert sorted(p.name for p in stored(gateway)) == sorted([created.id, second.id])

    deleted = httpx.delete(f"{gateway.base_url}/files/{second.id}", headers=headers).json()
    validate_schema(deleted, "DeleteFileResponse")
    assert deleted == {"id": second.id, "object": "file", "deleted": True}
    assert sdk.files.delete(created.id).deleted
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(created.id)
    assert stored(gateway) == []


def test_an_evals_file_is_a_user_data_file_everywhere(sqlite_gateway: RunningGateway) -> None:
    sdk = client(sqlite_gateway)
    created = sdk.files.create(file=("cases.jsonl", b'{"q": 1}\n'), purpose="evals")
    assert created.purpose == "user_data"  # the official file object has no evals purpose
    assert [f.id for f in sdk.files.list(purpose="user_data")] == [created.id]
    assert [f.id for f in sdk.files.list(purpose="evals")] == [created.id]
    assert sdk.files.retrieve(created.id).purpose == "user_data"
    assert [f.id for f in sdk.files.list(purpose="assistants")] == []
    sdk.files.delete(created.id)


def test_content_is_a_sandboxed_download(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    body = b"<html><script>alert(1)</script></html>"
    file_id = upload(gw, "tệp;1.html", body, content_type="text/html").json()["id"]
    response = httpx.get(f"{gw.base_url}/files/{file_id}/content", headers=auth(gw.admin_token))
    assert response.status_code == 200 and response.content == body
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    disposition = response.headers["content-disposition"]
    assert (
        disposition == "attachment; filename=\"t_p_1.html\"; filename*=UTF-8''t%E1%BB%87p%3B1.html"
    )


def test_another_users_file_is_not_found_anywhere(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    alice = gw.create_key("alice-files")
    bob = gw.create_key("bob-files")
    file_id = upload(gw, "secret.txt", b"alice only", token=alice).json()["id"]
    for method, path in (
        ("GET", f"/files/{file_id}"),
        ("GET", f"/files/{file_id}/content"),
        ("DELETE", f"/files/{file_id}"),
    ):
        response = httpx.request(method, gw.base_url + path, headers=auth(bob))
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["message"] == f"No such File object: {file_id}"
    assert httpx.get(gw.base_url + "/files", headers=auth(bob)).json()["data"] == []
    mine = httpx.get(f"{gw.base_url}/files/{file_id}/content", headers=auth(alice))
    assert mine.content == b"alice only"


def test_deleting_a_user_deletes_their_files_contents(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    carol = gw.create_key("carol-files")
    kept = gw.create_key("dave-files")
    gone = upload(gw, "notes.txt", b"carol's notes", token=carol).json()["id"]
    stays = upload(gw, "notes.txt", b"dave's notes", token=kept).json()["id"]
    assert {gone, stays} <= {p.name for p in stored(gw)}
    deleted = httpx.delete(f"{gw.url}/api/users/carol-files", headers=auth(gw.admin_token))
    assert deleted.status_code == 204
    names = {p.name for p in stored(gw)}
    assert gone not in names and stays in names  # nothing of carol's stays in the store
    assert httpx.get(gw.base_url + "/files", headers=auth(carol)).status_code == 401


@pytest.fixture(scope="module")
def small_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: tuple[str, Recorder]
) -> Iterator[RunningGateway]:
    """Files of at most 1 KiB, 2 KiB per user."""
    tmp = tmp_path_factory.mktemp("files")
    running, server = start_gateway(
        fresh_database("sqlite", tmp, None),
        tmp / "data",
        model_server={"enabled": False},
        files={"max_file_bytes": 1024, "user_quota_bytes": 2048},
    )
    try:
        yield running
    finally:
        server.__exit__()


def _refused(gw: RunningGateway, response: httpx.Response, status: int, code: str | None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["type"] == "invalid_request_error"
    assert stored(gw) == [] or all(p.name.startswith("file-") for p in stored(gw))
    assert not [p for p in stored(gw) if p.name.endswith(".part")]


def test_oversize_upload_is_413_and_nothing_is_stored(small_gateway: RunningGateway) -> None:
    gw = small_gateway
    before = stored(gw)
    _refused(gw, upload(gw, "big.txt", b"x" * 1025), 413, "file_too_large")
    assert stored(gw) == before
    listed = httpx.get(gw.base_url + "/files", headers=auth(gw.admin_token)).json()["data"]
    assert "big.txt" not in [f["filename"] for f in listed]


def test_quota_is_per_user(small_gateway: RunningGateway) -> None:
    gw = small_gateway
    key = gw.create_key("quota-user")
    for name in ("one.txt", "two.txt"):
        assert upload(gw, name, b"y" * 1000, token=key).status_code == 200
    before = stored(gw)
    _refused(gw, upload(gw, "three.txt", b"y" * 100, token=key), 413, "storage_quota_exceeded")
    assert stored(gw) == before
    other = gw.create_key("quota-other")  # another user still has room
    assert upload(gw, "mine.txt", b"z" * 1000, token=other).status_code == 200


@pytest.mark.parametrize(
    ("name", "data", "purpose", "code"),
    [
        ("../../etc/passwd", b"root:x", "user_data", "invalid_file_name"),
        ("..\\..\\boot.ini", b"[boot]", "user_data", "invalid_file_name"),
        ("report.pdf", b"this is no pdf", "user_data", "invalid_file_content"),
        ("photo.png", b"GIF89a....", "vision", "invalid_file_content"),
        ("empty.txt", b"", "user_data", "empty_file"),
        ("ok.txt", b"fine", "world-domination", None),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    small_gateway: RunningGateway, name: str, data: bytes, purpose: str, code: str | None
) -> None:
    gw = small_gateway
    before = stored(gw)
    _refused(gw, upload(gw, name, data, purpose), 400, code)
    assert stored(gw) == before


def test_a_body_that_is_not_multipart_is_refused(small_gateway: RunningGateway) -> None:
    gw = small_gateway
    before = stored(gw)
    response = httpx.post(
        gw.base_url + "/files",
        headers=auth(gw.admin_token),
        json={"file": "hello", "purpose": "user_data"},
    )
    _refused(gw, response, 400, "invalid_content_type")
    no_file = httpx.post(
        gw.base_url + "/files", headers=auth(gw.admin_token), files={"purpose": (None, "batch")}
    )
    _refused(gw, no_file, 400, None)
    assert stored(gw) == before


@pytest.mark.parametrize(
    ("name", "members", "message"),
    [
        ("bomb.zip", None, "times larger"),
        ("escape.zip", {"ok.txt": b"ok", "../../etc/cron.d/x": b"* * * * * boom"}, "unsafe path"),
        ("report.docx", {"/word/document.xml": b"<x/>"}, "unsafe path"),
    ],
)
def test_hostile_archives_are_refused_at_upload(
    sqlite_gateway: RunningGateway, name: str, members: dict[str, bytes] | None, message: str
) -> None:
    gw = sqlite_gateway
    data = corpus.zip_bomb() if members is None else corpus.zip_of(members)
    before = stored(gw)
    response = upload(gw, name, data)
    _refused(gw, response, 400, "unsafe_archive")
    assert name in response.json()["error"]["message"] and message in response.text
    assert stored(gw) == before

"""``files.store = "s3"``: file contents in an S3-compatible bucket. The bucket is moto's
S3 server (started here on 127.0.0.1, speaking S3's real wire format), reached through
the gateway's own client. Upload, list, download, delete, quota, refusals and chat all go
through the bucket; nothing is written to the data dir; the credentials never appear in
an answer, a log line or the shown settings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import openai
import orjson
import pytest
from moto.server import ThreadedMotoServer

from cong.settings import Settings
from tests.fakes.openai_upstream import Recorder
from tests.files import corpus
from tests.support.gateway import RunningGateway, auth, fresh_database, start_gateway

BUCKET = "cong-files"
KEY_ID = "AKIACONGTEST0000KEY1"
SECRET = "s3-secret-never-shown-0123456789abcdef"


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def bucket_client(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


def objects(url: str, bucket: str = BUCKET) -> list[str]:
    listed = bucket_client(url).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def s3_files(url: str, tmp: Path, bucket: str = BUCKET) -> dict[str, Any]:
    return {
        "store": "s3",
        "max_file_bytes": 200_000,
        "user_quota_bytes": 300_000,
        "s3": {
            "endpoint_url": url,
            "bucket": bucket,
            "region": "us-east-1",
            "access_key_id": KEY_ID,
            "secret_access_key": SECRET,
            "prefix": "uploads/",
            "addressing_style": "path",
            "spool_dir": str(tmp / "spool"),
        },
    }


@pytest.fixture(scope="module")
def s3_gateway(
    s3_url: str, tmp_path_factory: pytest.TempPathFactory, fake_openai: tuple[str, Recorder]
) -> Iterator[RunningGateway]:
    bucket_client(s3_url).create_bucket(Bucket=BUCKET)
    tmp = tmp_path_factory.mktemp("s3gw")
    (tmp / "spool").mkdir()
    running, server = start_gateway(
        fresh_database("sqlite", tmp, None),
        tmp / "data",
        upstreams=[
            {
                "name": "fake",
                "base_url": fake_openai[0] + "/v1",
                "api_key": "sk-upstream-secret-value",
                "models": ["fake-echo"],
            }
        ],
        model_server={"enabled": False},
        files=s3_files(s3_url, tmp),
    )
    try:
        yield running
    finally:
        server.__exit__()


def upload(gw: RunningGateway, name: str, data: bytes, key: str | None = None) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/files",
        headers=auth(key or gw.admin_token),
        files={"file": (name, data, "application/octet-stream")},
        data={"purpose": "user_data"},
        timeout=60,
    )


def nothing_in_data_dir(gw: RunningGateway) -> None:
    assert not gw.settings.files_dir.exists()
    spool = gw.settings.files.s3.spool_dir
    assert spool is not None and list(spool.iterdir()) == []


def test_files_live_in_the_bucket(s3_gateway: RunningGateway, s3_url: str) -> None:
    gw = s3_gateway
    sdk = openai.OpenAI(base_url=gw.base_url, api_key=gw.admin_token, max_retries=0)
    data = bytes(range(256)) * 600  # 153,600 bytes: several chunks on the way out
    made = sdk.files.create(file=("dữ liệu.bin", data), purpose="user_data")
    small = sdk.files.create(file=("a.txt", b"xin chao"), purpose="assistants")
    assert objects(s3_url) == sorted([f"uploads/{made.id}", f"uploads/{small.id}"])
    assert sdk.files.content(made.id).read() == data
    assert [f.id for f in sdk.files.list()] == [small.id, made.id]
    assert sdk.files.retrieve(made.id).filename == "dữ liệu.bin"
    assert sdk.files.delete(made.id).deleted
    assert sdk.files.delete(small.id).deleted
    assert objects(s3_url) == []
    nothing_in_data_dir(gw)


def test_refused_uploads_leave_no_object(s3_gateway: RunningGateway, s3_url: str) -> None:
    gw = s3_gateway
    key = gw.create_key("s3-quota")
    big = upload(gw, "big.txt", b"x" * 200_001, key)
    assert big.status_code == 413 and big.json()["error"]["code"] == "file_too_large"
    assert upload(gw, "one.txt", b"y" * 200_000, key).status_code == 200
    full = upload(gw, "two.txt", b"y" * 100_001, key)
    assert full.status_code == 413 and full.json()["error"]["code"] == "storage_quota_exceeded"
    bomb = upload(gw, "bomb.zip", corpus.zip_bomb(), key)
    assert bomb.status_code == 400 and bomb.json()["error"]["code"] == "unsafe_archive"
    fake_pdf = upload(gw, "report.pdf", b"no pdf at all", key)
    assert fake_pdf.json()["error"]["code"] == "invalid_file_content"
    listed = httpx.get(gw.base_url + "/files", headers=auth(key)).json()["data"]
    assert [f["filename"] for f in listed] == ["one.txt"]
    assert objects(s3_url) == [f"uploads/{listed[0]['id']}"]
    nothing_in_data_dir(gw)
    httpx.delete(f"{gw.base_url}/files/{listed[0]['id']}", headers=auth(key))


def test_chat_reads_a_spreadsheet_from_the_bucket(s3_gateway: RunningGateway) -> None:
    gw = s3_gateway
    book = corpus.xlsx({"Doanh thu": [["Tháng", "VND"], [1, 1500]]})
    file_id = upload(gw, "số liệu.xlsx", book).json()["id"]
    reply = httpx.post(
        gw.base_url + "/chat/completions",
        headers=auth(gw.admin_token),
        json={
            "model": "fake-echo",
            "messages": [
                {"role": "user", "content": [{"type": "file", "file": {"file_id": file_id}}]}
            ],
        },
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    seen = orjson.loads(reply.json()["choices"][0]["message"]["content"])
    text = seen["messages"][0]["content"][0]["text"]
    assert text.startswith('<file name="số liệu.xlsx">\n--- sheet: Doanh thu ---\nTháng | VND')
    nothing_in_data_dir(gw)


def test_a_failing_store_is_503_and_the_credentials_stay_secret(
    s3_url: str,
    tmp_path: Path,
    fake_openai: tuple[str, Recorder],
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "spool").mkdir()
    files = s3_files(s3_url, tmp_path, bucket="no-such-bucket")
    shown = orjson.dumps(Settings(files=files).masked()).decode()
    assert SECRET not in shown and KEY_ID not in shown and "no-such-bucket" in shown
    gw, server = start_gateway(
        fresh_database("sqlite", tmp_path, None),
        tmp_path / "data",
        model_server={"enabled": False},
        files=files,
    )
    try:
        with caplog.at_level(logging.DEBUG, logger="cong"):
            response = upload(gw, "a.txt", b"hello")
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "file_store_unavailable"
        assert SECRET not in response.text and KEY_ID not in response.text
        assert "NoSuchBucket" in caplog.text
        assert SECRET not in caplog.text and KEY_ID not in caplog.text
        listed = httpx.get(gw.base_url + "/files", headers=auth(gw.admin_token)).json()
        assert listed["data"] == []  # nothing half-stored
    finally:
        server.__exit__()


def test_s3_needs_a_bucket() -> None:
    with pytest.raises(ValueError, match=r"files\.s3\.bucket"):
        Settings(files={"store": "s3"})

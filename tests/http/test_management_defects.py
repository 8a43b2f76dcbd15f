"""Defects an outside reliability run found in the management API, each pinned by a test:
channel values (the per-channel ``timeouts`` crash, bad URLs, huge priorities) refused
with 400 before anything is stored, a bad stored row that no longer stops the server,
ids with non-ASCII digits, zoned timestamps, authentication before the body, 413 for
chunked bodies, no Host-derived redirects, private file modes and keys an admin
disabled."""

from __future__ import annotations

import logging
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cong.storage.database import Database
from cong.storage.tables import Channel
from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import (
    RunningGateway,
    api,
    fresh_database,
    run_async,
    start_gateway,
)

HI = [{"role": "user", "content": "hi"}]


def _channel(name: str, url: str, **extra: object) -> dict[str, object]:
    return {"name": name, "base_url": url + "/v1", "models": [f"{name}/m"], **extra}


def _chat(gw: RunningGateway, model: str) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/chat/completions",
        json={"model": model, "messages": HI, "max_tokens": 5},
        headers={"authorization": f"Bearer {gw.admin_token}"},
        timeout=30,
    )


def test_per_channel_timeouts_are_stored_and_used(
    gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    token = gateway.admin_token
    created = api(
        gateway,
        "POST",
        "/api/channels",
        token,
        json=_channel("timed", fake_openai[0], timeouts={"total": 60}),
    )
    assert created.status_code == 201, created.text
    # Today's code saved the row, then crashed building it: every later change was a 500.
    changed = api(gateway, "PATCH", "/api/channels/timed", token, json={"timeouts": {"idle": 5}})
    assert changed.status_code == 200, changed.text
    assert api(gateway, "PATCH", "/api/channels/timed", token, json={"weight": 3}).is_success
    assert _chat(gateway, "timed/m").status_code == 200


@pytest.mark.parametrize(
    "field,value",
    [
        ("timeouts", {"total": "soon"}),
        ("timeouts", {"total": -1}),
        ("timeouts", {"total": 1e300}),
        ("timeouts", {"bogus": 5}),
        ("base_url", "http://"),
        ("base_url", "http://[::1"),
        ("base_url", "http://host:99999/v1"),
        ("base_url", "ftp://example.com"),
        ("base_url", "http://" + "a" * 64 + ".example/v1"),  # not a valid host name
        ("base_url", None),
        ("priority", 1e20),
        ("priority", None),
        ("models", None),
        ("enabled", None),
    ],
)
def test_bad_channel_values_are_400_and_store_nothing(
    sqlite_gateway: RunningGateway, fake_openai: tuple[str, Recorder], field: str, value: object
) -> None:
    gw, token = sqlite_gateway, sqlite_gateway.admin_token
    name = f"v{abs(hash((field, str(value)))) % 10**8}"
    assert api(gw, "POST", "/api/channels", token, json=_channel(name, fake_openai[0])).is_success
    before = api(gw, "GET", f"/api/channels/{name}", token).json()
    patched = api(gw, "PATCH", f"/api/channels/{name}", token, json={field: value})
    assert patched.status_code == 400, patched.text
    assert patched.json()["error"]["type"] == "invalid_request_error"
    assert api(gw, "GET", f"/api/channels/{name}", token).json() == before
    if value is not None:
        spec = {**_channel(name + "x", fake_openai[0]), field: value}
        created = api(gw, "POST", "/api/channels", token, json=spec)
        assert created.status_code == 400, created.text
        assert api(gw, "GET", f"/api/channels/{name}x", token).status_code == 404
    # The gateway still changes channels and serves requests.
    assert api(gw, "PATCH", f"/api/channels/{name}", token, json={"weight": 2}).is_success
    assert _chat(gw, f"{name}/m").status_code == 200


def test_serve_starts_with_an_invalid_stored_channel(
    tmp_path: Path, fake_openai: tuple[str, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    url = fresh_database("sqlite", tmp_path, None)
    from cong.storage.database import migrate

    migrate(url)

    async def store_bad_rows() -> None:
        db = Database(url)
        try:
            async with db.session() as session, session.begin():
                for name, timeouts, base in (
                    ("broken-timeouts", {"total": "abc"}, fake_openai[0] + "/v1"),
                    ("broken-url", {}, "not a url"),
                ):
                    session.add(
                        Channel(
                            name=name,
                            type="openai",
                            base_url=base,
                            keys_encrypted=[],
                            keys_last4=[],
                            models=[f"{name}/m"],
                            embedding_models=[],
                            image_models=[],
                            text_only_models=[],
                            model_map={},
                            timeouts=timeouts,
                        )
                    )
        finally:
            await db.close()

    run_async(store_bad_rows)
    caplog.set_level(logging.ERROR, logger="cong.channels")
    gw, server = start_gateway(
        url,
        tmp_path / "data",
        upstreams=[_channel("good", fake_openai[0])],
        model_server={"enabled": False},
    )
    try:
        assert _chat(gw, "good/m").status_code == 200
        assert _chat(gw, "broken-timeouts/m").status_code == 404  # disabled, not served
        status = api(gw, "GET", "/api/status", gw.admin_token).json()
        anonymous = httpx.get(gw.url + "/api/status").json()
    finally:
        server.__exit__()
    invalid = {c["name"]: c["reason"] for c in status["invalid_channels"]}
    assert set(invalid) == {"broken-timeouts", "broken-url"}
    assert "timeouts.total" in invalid["broken-timeouts"]
    assert "base_url" in invalid["broken-url"]
    assert "invalid_channels" not in anonymous
    logged = [r.getMessage() for r in caplog.records if r.name == "cong.channels"]
    assert any("broken-timeouts" in line and "disabled" in line for line in logged)


@pytest.mark.parametrize(
    "path",
    [
        "/api/users/²",
        "/api/users/99999999999999999999999",
        "/api/groups/²",
        "/api/channels/²",
        "/api/channels/99999999999999999999999",
        "/api/codes?cursor=²",
    ],
)
def test_odd_ids_are_not_server_errors(sqlite_gateway: RunningGateway, path: str) -> None:
    response = api(sqlite_gateway, "GET", path, sqlite_gateway.admin_token)
    assert response.status_code in (400, 404), response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_group_timestamps_carry_a_time_zone(sqlite_gateway: RunningGateway) -> None:
    token = sqlite_gateway.admin_token
    created = api(sqlite_gateway, "POST", "/api/groups", token, json={"name": "zoned"})
    assert created.status_code == 201, created.text
    for group in api(sqlite_gateway, "GET", "/api/groups", token).json():
        assert group["created_at"].endswith(("Z", "+00:00")), group


def _raw_request(gw: RunningGateway, head: str, timeout: float = 3.0) -> bytes:
    """Send only a request head (a body is announced but never sent); the answer."""
    host, port = gw.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head.encode())
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b""


@pytest.mark.parametrize("authorization", ["", "Authorization: Bearer sk-not-a-key\r\n"])
def test_api_authenticates_before_reading_the_body(
    sqlite_gateway: RunningGateway, authorization: str
) -> None:
    answer = _raw_request(
        sqlite_gateway,
        "POST /api/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"{authorization}Content-Length: 1000000\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


def test_a_chunked_api_body_past_the_limit_is_413(sqlite_gateway: RunningGateway) -> None:
    def body() -> Iterator[bytes]:  # no content-length: counted as it arrives
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 1_000_000
        yield b'"}'

    response = httpx.post(
        sqlite_gateway.url + "/api/users",
        content=body(),
        headers={"authorization": f"Bearer {sqlite_gateway.admin_token}"},
        timeout=60,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_no_redirect_takes_its_target_from_the_host_header(
    sqlite_gateway: RunningGateway,
) -> None:
    response = httpx.get(
        sqlite_gateway.url + "/api/users/",
        headers={"host": "evil.example", "authorization": f"Bearer {sqlite_gateway.admin_token}"},
        follow_redirects=False,
    )
    assert "evil.example" not in response.headers.get("location", "")
    assert not response.is_redirect


def test_database_and_secret_files_are_private(sqlite_gateway: RunningGateway) -> None:
    settings = sqlite_gateway.settings
    database = Path(settings.effective_database_url.split("///", 1)[1])
    for path in (database, settings.data_dir / "secret.key"):
        assert path.exists(), path
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    wal = database.with_name(database.name + "-wal")
    if wal.exists():
        assert stat.S_IMODE(os.stat(wal).st_mode) == 0o600


def test_a_key_an_admin_disabled_stays_disabled_for_its_owner(gateway: RunningGateway) -> None:
    admin = gateway.admin_token
    owner = gateway.create_key("kd-owner")
    spare = gateway.create_key("kd-owner")
    key_id = api(gateway, "GET", "/api/me", owner).json()["key"]["id"]
    # The owner may switch their own key off and on again.
    assert api(gateway, "PATCH", f"/api/keys/{key_id}", spare, json={"enabled": False}).is_success
    assert api(gateway, "PATCH", f"/api/keys/{key_id}", spare, json={"enabled": True}).is_success
    # Once an admin disabled it, only an admin can enable it.
    assert api(gateway, "PATCH", f"/api/keys/{key_id}", admin, json={"enabled": False}).is_success
    again = api(gateway, "PATCH", f"/api/keys/{key_id}", spare, json={"enabled": True})
    assert again.status_code == 403
    assert again.json()["error"]["code"] == "disabled_by_admin"
    assert api(gateway, "GET", "/api/me", owner).status_code == 401
    # Disabling it once more does not lift the admin's lock.
    api(gateway, "PATCH", f"/api/keys/{key_id}", spare, json={"enabled": False})
    assert api(gateway, "PATCH", f"/api/keys/{key_id}", spare, json={"enabled": True}).is_error
    assert api(gateway, "PATCH", f"/api/keys/{key_id}", admin, json={"enabled": True}).is_success
    assert api(gateway, "GET", "/api/me", owner).status_code == 200


def test_a_key_cannot_be_limited_to_a_model_the_gateway_does_not_serve(
    sqlite_gateway: RunningGateway,
) -> None:
    gw = sqlite_gateway
    typo = api(gw, "POST", "/api/keys", gw.admin_token, json={"models": ["fake-modle"]})
    assert typo.status_code == 400
    error = typo.json()["error"]
    assert error["param"] == "models" and error["code"] == "model_not_found"
    assert "'fake-modle'" in error["message"]
    # served models and aliases are fine, on creation and on change
    made = api(gw, "POST", "/api/keys", gw.admin_token, json={"models": ["fake-model", "gpt-4o"]})
    assert made.status_code == 201
    key_id = made.json()["id"]
    changed = api(gw, "PATCH", f"/api/keys/{key_id}", gw.admin_token, json={"models": ["nope"]})
    assert changed.status_code == 400
    kept = api(gw, "GET", f"/api/keys/{key_id}", gw.admin_token).json()
    assert kept["models"] == ["fake-model", "gpt-4o"]

"""What every response carries and how the edges behave: auth, ids, CORS, limits, logs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, fresh_database, start_gateway

HI = [{"role": "user", "content": "hi"}]


def data_events(response: httpx.Response) -> list[str]:
    """The ``data:`` fields of an SSE response, in order."""
    return [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_health_is_public_and_tiny(sqlite_gateway: RunningGateway) -> None:
    response = httpx.get(sqlite_gateway.url + "/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"].startswith("req_")


def test_status_reports_version_uptime_and_upstreams(sqlite_gateway: RunningGateway) -> None:
    status = httpx.get(
        sqlite_gateway.url + "/api/status", headers=auth(sqlite_gateway.admin_token)
    ).json()
    assert status["version"]
    assert status["uptime_seconds"] >= 0
    assert status["model_server"] == {"state": "disabled"}
    assert status["upstreams"][0]["name"] == "fake"
    assert status["upstreams"][0]["state"] == "up"
    assert "sk-upstream-secret-value" not in orjson.dumps(status).decode()
    assert "base_url" not in orjson.dumps(status).decode()


def test_status_names_no_channel_to_anonymous_or_plain_callers(
    sqlite_gateway: RunningGateway,
) -> None:
    user = sqlite_gateway.create_key("status-reader")
    for headers in ({}, auth(user), auth("sk-wrong")):
        response = httpx.get(sqlite_gateway.url + "/api/status", headers=headers)
        assert response.status_code == 200
        status = response.json()
        assert status["upstreams"] and all(u["state"] == "up" for u in status["upstreams"])
        assert all(set(u) == {"state", "circuit", "models"} for u in status["upstreams"])
        assert "invalid_channels" not in status and "pid" not in status["model_server"]


def test_missing_and_wrong_keys_get_401(sqlite_gateway: RunningGateway) -> None:
    url = sqlite_gateway.base_url + "/chat/completions"
    missing = httpx.post(url, json={"model": "fake-model", "messages": HI})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    wrong = httpx.post(url, json={"model": "fake-model", "messages": HI}, headers=auth("sk-x"))
    assert wrong.status_code == 401
    assert "sk-x" not in wrong.text or "Incorrect" in wrong.json()["error"]["message"]


def test_unknown_route_and_wrong_method_use_the_envelope(sqlite_gateway: RunningGateway) -> None:
    unknown = httpx.get(sqlite_gateway.base_url + "/nope", headers=auth("k"))
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "invalid_request_error"
    wrong = httpx.get(sqlite_gateway.base_url + "/chat/completions")
    assert wrong.status_code == 405
    assert "error" in wrong.json()
    head = httpx.head(sqlite_gateway.base_url + "/models", headers=auth(sqlite_gateway.admin_token))
    assert head.status_code == 200 and head.content == b""


def test_cors_preflight_and_exposed_request_id(sqlite_gateway: RunningGateway) -> None:
    preflight = httpx.options(
        sqlite_gateway.base_url + "/chat/completions",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "https://app.example")
    response = httpx.post(
        sqlite_gateway.base_url + "/chat/completions",
        json={"model": "fake-model", "messages": HI},
        headers={**auth(sqlite_gateway.admin_token), "origin": "https://app.example"},
    )
    assert response.headers["access-control-allow-origin"] in ("*", "https://app.example")
    assert "x-request-id" in response.headers["access-control-expose-headers"]


def test_unknown_fields_pass_through(sqlite_gateway: RunningGateway) -> None:
    response = httpx.post(
        sqlite_gateway.base_url + "/chat/completions",
        json={"model": "fake-echo", "messages": HI, "my_vendor_flag": {"x": [1, 2]}, "top_k": 5},
        headers=auth(sqlite_gateway.admin_token),
    )
    sent = orjson.loads(response.json()["choices"][0]["message"]["content"])
    assert sent["my_vendor_flag"] == {"x": [1, 2]}
    assert sent["top_k"] == 5
    assert response.json()["model"] == "fake-echo"


def test_upstream_credentials_never_reach_the_client(
    sqlite_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    response = httpx.post(
        sqlite_gateway.base_url + "/chat/completions",
        json={"model": "fake-401", "messages": HI},
        headers=auth(sqlite_gateway.admin_token),
    )
    assert response.status_code == 502
    assert "sk-upstr" not in response.text
    assert "127.0.0.1" not in response.text
    assert fake_openai[1].headers[-1]["authorization"] == "Bearer sk-upstream-secret-value"


def test_midstream_failure_ends_with_error_event_then_done(
    sqlite_gateway: RunningGateway,
) -> None:
    response = httpx.post(
        sqlite_gateway.base_url + "/chat/completions",
        json={"model": "fake-midstream-error", "messages": HI, "stream": True},
        headers=auth(sqlite_gateway.admin_token),
    )
    assert response.status_code == 200
    events = data_events(response)
    assert events[-1] == "[DONE]"
    error = orjson.loads(events[-2])["error"]
    assert "overloaded" in error["message"]
    assert {"message", "type", "param", "code"} <= set(error)


def test_client_disconnect_stops_the_upstream_stream(
    sqlite_gateway: RunningGateway, fake_openai: tuple[str, Recorder]
) -> None:
    recorder = fake_openai[1]
    recorder.slow_chunks_sent = 0
    with httpx.stream(
        "POST",
        sqlite_gateway.base_url + "/chat/completions",
        json={"model": "fake-slow", "messages": HI, "stream": True},
        headers=auth(sqlite_gateway.admin_token),
    ) as response:
        for line in response.iter_lines():
            if "t2 " in line:
                break
    time.sleep(1.5)
    sent_after_disconnect = recorder.slow_chunks_sent
    time.sleep(1.0)
    assert recorder.slow_chunks_sent == sent_after_disconnect
    assert sent_after_disconnect < 15
    assert not recorder.slow_finished


def test_key_limited_to_models(sqlite_gateway: RunningGateway) -> None:
    key = sqlite_gateway.create_key("model-limited", models=["fake-model"])
    listing = httpx.get(sqlite_gateway.base_url + "/models", headers=auth(key)).json()
    ids = {m["id"] for m in listing["data"]}
    assert ids == {"fake-model", "gpt-4o"}  # the model and the alias that points to it
    denied = httpx.post(
        sqlite_gateway.base_url + "/chat/completions",
        json={"model": "fake-echo", "messages": HI},
        headers=auth(key),
    )
    # Like OpenAI: a model the key may not use is indistinguishable from a missing one.
    missing = httpx.post(
        sqlite_gateway.base_url + "/chat/completions",
        json={"model": "no-such-model", "messages": HI},
        headers=auth(key),
    )
    assert denied.status_code == missing.status_code == 404
    assert denied.json()["error"]["code"] == missing.json()["error"]["code"] == "model_not_found"
    assert denied.json()["error"]["type"] == "invalid_request_error"
    hidden = httpx.get(sqlite_gateway.base_url + "/models/fake-echo", headers=auth(key))
    assert hidden.status_code == 404


def test_models_list_aliases_for_full_key(sqlite_gateway: RunningGateway) -> None:
    listing = httpx.get(
        sqlite_gateway.base_url + "/models", headers=auth(sqlite_gateway.admin_token)
    ).json()
    ids = {m["id"] for m in listing["data"]}
    assert {"fake-model", "fake-embed", "gpt-4o", "text-embedding-3-small"} <= ids
    assert all(m["object"] == "model" and m["owned_by"] for m in listing["data"])


def test_revoked_key_gets_401_saying_so(gateway: RunningGateway) -> None:
    key = gateway.create_key("revokee")
    url = gateway.base_url + "/chat/completions"
    assert (
        httpx.post(url, json={"model": "fake-model", "messages": HI}, headers=auth(key)).status_code
        == 200
    )
    public_id = key[3:15]
    gateway.accounts(lambda a: a.revoke_key(public_id))
    deadline = time.monotonic() + gateway.settings.key_cache_seconds + 3
    while True:
        response = httpx.post(url, json={"model": "fake-model", "messages": HI}, headers=auth(key))
        if response.status_code == 401 or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_access_log_has_request_id_and_never_the_key(
    tmp_path: Path, fake_openai: tuple[str, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    running, server = start_gateway(
        fresh_database("sqlite", tmp_path, None),
        tmp_path / "data",
        access_log=True,
        model_server={"enabled": False},
        upstreams=[{"name": "fake", "base_url": fake_openai[0] + "/v1", "models": ["fake-500"]}],
    )
    try:
        with caplog.at_level(logging.INFO, logger="cong.access"):
            response = httpx.post(
                running.base_url + "/chat/completions",
                json={"model": "fake-500", "messages": HI},
                headers=auth(running.admin_token),
            )
            time.sleep(0.2)
    finally:
        server.__exit__()
    lines = [r.getMessage() for r in caplog.records if r.name == "cong.access"]
    assert any(response.headers["x-request-id"] in line and " 502 " in line for line in lines)
    assert all(running.admin_token not in line for line in caplog.text.splitlines())


def test_model_server_away_gives_503_with_clear_message(tmp_path: Path) -> None:
    from tests.support.processes import free_port

    running, server = start_gateway(
        fresh_database("sqlite", tmp_path, None),
        tmp_path / "data",
        model_server={"enabled": True, "port": free_port()},
    )
    try:
        response = httpx.post(
            running.base_url + "/chat/completions",
            json={"model": "gpt-4o", "messages": HI},
            headers=auth(running.admin_token),
        )
        status = httpx.get(running.url + "/api/status").json()
    finally:
        server.__exit__()
    assert response.status_code == 503
    assert "embedded model server" in response.json()["error"]["message"]
    assert response.headers["retry-after"] == "1"
    assert status["model_server"]["state"] == "unavailable"


def test_keepalive_comments_while_the_upstream_is_silent(
    tmp_path: Path, fake_openai: tuple[str, Recorder]
) -> None:
    running, server = start_gateway(
        fresh_database("sqlite", tmp_path, None),
        tmp_path / "data",
        keepalive_seconds=0.2,
        model_server={"enabled": False},
        upstreams=[{"name": "fake", "base_url": fake_openai[0] + "/v1", "models": ["fake-late"]}],
    )
    try:
        response = httpx.post(
            running.base_url + "/chat/completions",
            json={"model": "fake-late", "messages": HI, "stream": True},
            headers=auth(running.admin_token),
            timeout=10,
        )
    finally:
        server.__exit__()
    assert response.status_code == 200
    head = response.text.split("data: ", 1)[0]
    assert head.count(": keep-alive") >= 2
    assert response.text.rstrip().endswith("data: [DONE]")


def test_stalled_stream_ends_with_error_event_then_done(
    tmp_path: Path, fake_openai: tuple[str, Recorder]
) -> None:
    running, server = start_gateway(
        fresh_database("sqlite", tmp_path, None),
        tmp_path / "data",
        model_server={"enabled": False},
        timeouts={"idle": 0.5},
        upstreams=[{"name": "fake", "base_url": fake_openai[0] + "/v1", "models": ["fake-stall"]}],
    )
    started = time.monotonic()
    try:
        response = httpx.post(
            running.base_url + "/chat/completions",
            json={"model": "fake-stall", "messages": HI, "stream": True},
            headers=auth(running.admin_token),
            timeout=20,
        )
    finally:
        server.__exit__()
    assert time.monotonic() - started < 10
    events = data_events(response)
    assert orjson.loads(events[0])["choices"][0]["delta"]["content"] == "Hel"
    error = orjson.loads(events[-2])["error"]
    assert error["code"] == "upstream_timeout" and "stalled" in error["message"]
    assert events[-1] == "[DONE]"


def test_stream_failing_before_the_first_byte_keeps_its_status(
    sqlite_gateway: RunningGateway,
) -> None:
    response = httpx.post(
        sqlite_gateway.base_url + "/chat/completions",
        json={"model": "fake-429", "messages": HI, "stream": True},
        headers=auth(sqlite_gateway.admin_token),
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_a_chunked_body_past_the_limit_is_413(sqlite_gateway: RunningGateway) -> None:
    def body() -> Iterator[bytes]:  # no content-length: the limit is counted as it arrives
        yield b'{"model": "fake-model", "messages": [{"role": "user", "content": "'
        for _ in range(40):
            yield b"x" * 1_000_000
        yield b'"}]}'

    response = httpx.post(
        sqlite_gateway.base_url + "/chat/completions",
        content=body(),
        headers=auth(sqlite_gateway.admin_token),
        timeout=60,
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "invalid_request_error"

"""Routing and upstream-trust defects from outside testing, each pinned by a test: a
half-open probe released whatever ends it, a missing endpoint (404/405) failing over, a
refused connection following the threshold, retry-after capped, no redirects with the
channel's key, upstream text scrubbed of keys, 429 as ``rate_limit_exceeded``, and the
routing log lines with the request id."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cong.channels.catalog import ModelRoute
from cong.channels.health import ChannelHealth
from cong.channels.routing import Router
from cong.settings import RoutingSettings
from tests.fakes.openai_upstream import Recorder, create_fake_openai
from tests.support.gateway import RunningGateway, fresh_database, start_gateway
from tests.support.processes import free_port
from tests.support.servers import ServerThread

HI = [{"role": "user", "content": "hi"}]
FAST = {
    "backoff_base": 0.01,
    "backoff_max": 0.02,
    "cooldown": 30.0,
    "failure_threshold": 3,
    "max_attempts": 4,
    "retries_per_channel": 1,
}


@pytest.fixture
def two() -> Iterator[tuple[ServerThread, Recorder, ServerThread, Recorder]]:
    a, b = Recorder(), Recorder()
    with ServerThread(create_fake_openai(a)) as sa, ServerThread(create_fake_openai(b)) as sb:
        yield sa, a, sb, b


def _gateway(
    tmp_path: Path, channels: list[dict[str, Any]], **routing: Any
) -> tuple[RunningGateway, ServerThread]:
    return start_gateway(
        fresh_database("sqlite", tmp_path, None),
        tmp_path / "data",
        upstreams=channels,
        model_server={"enabled": False},
        routing={**FAST, **routing},
    )


def _channel(name: str, base_url: str, key: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "base_url": base_url,
        "api_key": key or f"sk-{name}-key",
        "models": ["fake-model"],
        **extra,
    }


def _chat(gw: RunningGateway, model: str = "fake-model", **extra: Any) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/chat/completions",
        json={"model": model, "messages": HI, **extra},
        headers={"authorization": f"Bearer {gw.admin_token}"},
        timeout=30,
    )


def _status(gw: RunningGateway) -> dict[str, dict[str, Any]]:
    status = httpx.get(
        gw.url + "/api/status", headers={"authorization": f"Bearer {gw.admin_token}"}
    ).json()
    return {c["name"]: c for c in status["upstreams"]}


def _route(channel: str) -> ModelRoute:
    return ModelRoute(
        id="m", provider=None, upstream_model="m", kind="chat", vision=False, owned_by="x",
        channel=channel,
    )  # fmt: skip


@pytest.mark.parametrize("interruption", [asyncio.CancelledError, RuntimeError])
def test_an_interrupted_half_open_probe_frees_the_channel(
    interruption: type[BaseException],
) -> None:
    now = [0.0]
    health = ChannelHealth(threshold=1, window=60, cooldown=5, clock=lambda: now[0])
    router = Router(RoutingSettings(retries_per_channel=0), health)
    health.failure("c", "down")
    now[0] = 10.0  # the cool-down passed: one probe may go
    assert health.state("c") == "half-open" and health.available("c")

    async def interrupted(_route: ModelRoute) -> str:
        raise interruption  # the client went away while the probe was waiting

    async def probe() -> None:
        with pytest.raises(interruption):
            await router.call([_route("c")], interrupted)

    asyncio.run(probe())
    assert health.available("c")  # today: excluded for good


def test_a_missing_endpoint_fails_over_without_retrying_it(tmp_path: Path, two: Any) -> None:
    sa, _a, sb, b = two
    channels = [
        _channel("wrong-path", sa.url + "/not-v1", priority=1),
        _channel("right", sb.url + "/v1"),
    ]
    gw, server = _gateway(tmp_path, channels)
    try:
        response = _chat(gw)
        status = _status(gw)
    finally:
        server.__exit__()
    assert response.status_code == 200, response.text
    assert b.chat_count == 1
    assert status["wrong-path"]["recent_failures"] == 1
    assert "does not serve this endpoint" in status["wrong-path"]["last_error"]


def test_a_refused_connection_follows_the_threshold(tmp_path: Path, two: Any) -> None:
    _sa, _a, sb, b = two
    closed = f"http://127.0.0.1:{free_port()}/v1"
    channels = [_channel("refusing", closed, priority=1), _channel("spare", sb.url + "/v1")]
    gw, server = _gateway(tmp_path, channels, retries_per_channel=0)
    try:
        assert _chat(gw).status_code == 200
        first = _status(gw)["refusing"]
        assert _chat(gw).status_code == 200
        assert _chat(gw).status_code == 200
        third = _status(gw)["refusing"]
    finally:
        server.__exit__()
    # One refusal does not open the circuit (today: retry-after 1 opened it at once) ...
    assert first["circuit"] == "closed" and first["recent_failures"] == 1
    # ... the threshold (3) does, for the configured cool-down (30 s).
    assert third["circuit"] == "open" and third["cooldown_remaining"] > 20
    assert b.chat_count == 3


def test_upstream_retry_after_is_capped(tmp_path: Path, two: Any) -> None:
    sa, a, sb, _b = two
    a.force_status, a.force_retry_after = 429, "86400"
    channels = [_channel("limited", sa.url + "/v1", priority=1), _channel("spare", sb.url + "/v1")]
    gw, server = _gateway(tmp_path, channels, max_retry_after=2.0)
    try:
        assert _chat(gw).status_code == 200
        limited = _status(gw)["limited"]
    finally:
        server.__exit__()
    assert limited["circuit"] == "open"
    assert 0 < limited["cooldown_remaining"] <= 2.0


def test_provider_keys_never_follow_a_redirect(tmp_path: Path, two: Any) -> None:
    sa, a, sb, b = two
    a.redirect_to = sb.url + "/v1/chat/completions"  # another host:port
    channels = [_channel("redirecting", sa.url + "/v1", key="sk-never-elsewhere-0001")]
    gw, server = _gateway(tmp_path, channels)
    try:
        response = _chat(gw)
    finally:
        server.__exit__()
    assert b.chat_count == 0 and not b.headers  # neither the key nor the body went there
    assert response.status_code == 502
    assert "redirect" in response.json()["error"]["message"]


def test_upstream_error_text_is_scrubbed_of_keys(tmp_path: Path, two: Any) -> None:
    sa, a, _sb, _b = two
    own = "myvendor.Zq7Rx2Lm9Tp4Wd8K"  # no known prefix: only matching the channel's key finds it
    leaked = [
        own,
        "gsk_" + "A1b2C3d4E5f6G7h8J9k0",
        "xai-" + "A1b2C3d4E5f6G7h8J9k0",
        "AIza" + "SyA1234567890abcdefghijklmnop",
        "hf_" + "A1b2C3d4E5f6G7h8J9k0",
    ]
    a.force_status, a.force_type = 400, "invalid_request_error"
    a.force_message = "Bad request; keys seen: " + ", ".join(leaked)
    gw, server = _gateway(tmp_path, [_channel("leaky", sa.url + "/v1", key=own)])
    try:
        response = _chat(gw)
    finally:
        server.__exit__()
    assert response.status_code == 400
    text = response.text
    assert "keys seen" in text
    for secret in leaked:
        assert secret not in text, secret


def test_an_upstream_429_is_rate_limit_exceeded(tmp_path: Path, two: Any) -> None:
    sa, a, _sb, _b = two
    a.force_status, a.force_type, a.force_code = 429, "tokens", "tpm_exhausted"
    gw, server = _gateway(tmp_path, [_channel("busy", sa.url + "/v1")], max_attempts=1)
    try:
        response = _chat(gw)
    finally:
        server.__exit__()
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert response.json()["error"]["type"] == "rate_limit_exceeded"


def test_retries_failovers_and_circuits_are_logged_with_the_request_id(
    tmp_path: Path, two: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sa, a, sb, _b = two
    a.force_status = 503
    channels = [_channel("flaky", sa.url + "/v1", priority=1), _channel("steady", sb.url + "/v1")]
    caplog.set_level(logging.INFO, logger="cong.routing")
    gw, server = _gateway(tmp_path, channels, failure_threshold=2)
    try:
        response = _chat(gw)
        status = _status(gw)
    finally:
        server.__exit__()
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    events = [r.cong for r in caplog.records if r.name == "cong.routing"]  # type: ignore[attr-defined]
    kinds = [e["event"] for e in events]
    assert {"upstream_error", "retry", "circuit_open", "failover"} <= set(kinds)
    assert all(e["request_id"] == request_id for e in events)
    assert next(e for e in events if e["event"] == "failover")["channel"] == "steady"
    # Admins see each channel's last error and recent failures.
    assert status["flaky"]["recent_failures"] == 2
    assert status["flaky"]["last_error"] == "forced failure"


def test_a_stream_failing_midway_counts_against_its_channel(tmp_path: Path, two: Any) -> None:
    sa, _a, _sb, _b = two
    channel = {**_channel("wobbly", sa.url + "/v1"), "models": ["fake-midstream-error"]}
    gw, server = _gateway(tmp_path, [channel], failure_threshold=2)
    try:
        for _ in range(2):
            streamed = _chat(gw, model="fake-midstream-error", stream=True)
            assert streamed.status_code == 200  # the first byte was out: no failover
            assert '"error"' in streamed.text and streamed.text.rstrip().endswith("[DONE]")
        wobbly = _status(gw)["wobbly"]
    finally:
        server.__exit__()
    assert wobbly["recent_failures"] == 2
    assert wobbly["circuit"] == "open"  # the threshold (2) counted the mid-stream failures
    assert "mid-stream" in wobbly["last_error"]


def test_a_json_answer_to_a_stream_request_fails_over_before_the_first_byte(
    tmp_path: Path, two: Any
) -> None:
    sa, a, sb, b = two
    a.ignore_stream = True
    channels = [_channel("no-sse", sa.url + "/v1", priority=1), _channel("sse", sb.url + "/v1")]
    gw, server = _gateway(tmp_path, channels)
    try:
        failed_over = _chat(gw, stream=True)
        b.force_status = 503  # now only the JSON-answering channel is left
        alone = _chat(gw, stream=True)
    finally:
        server.__exit__()
    assert failed_over.status_code == 200 and "Hello" in failed_over.text
    assert failed_over.text.rstrip().endswith("[DONE]")
    assert a.chat_count >= 1 and b.chat_count >= 1
    # Never an empty 200 stream: a 5xx before the first byte.
    assert alone.status_code in (502, 503), alone.text
    assert alone.headers["content-type"].startswith("application/json")


def test_errors_name_the_asked_model_never_the_upstream_or_channel(
    tmp_path: Path, two: Any
) -> None:
    sa, a, _sb, _b = two
    a.force_status, a.force_type = 400, "invalid_request_error"
    a.force_message = "The model `vendor-internal-v2` does not support logprobs."
    channel = {
        **_channel("secret-channel-name", sa.url + "/v1"),
        "models": ["nice-name"],
        "model_map": {"nice-name": "vendor-internal-v2"},
    }
    gw, server = _gateway(tmp_path, [channel])
    try:
        refused = _chat(gw, model="nice-name")
        a.force_status, a.force_message = 500, "vendor-internal-v2 crashed"
        failed = _chat(gw, model="nice-name")
    finally:
        server.__exit__()
    assert refused.status_code == 400
    assert "`nice-name` does not support logprobs" in refused.json()["error"]["message"]
    assert failed.status_code == 502
    for response in (refused, failed):
        assert "vendor-internal-v2" not in response.text
        assert "secret-channel-name" not in response.text

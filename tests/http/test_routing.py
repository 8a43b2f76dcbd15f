"""Routing through real fake upstreams: failover, retry budget, cool-down and recovery,
no retry after the first byte, 4xx not retried, weighted distribution."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.openai_upstream import Recorder, create_fake_openai
from tests.support.gateway import RunningGateway, fresh_database, start_gateway
from tests.support.servers import ServerThread

HI = [{"role": "user", "content": "hi"}]
FAST_ROUTING = {
    "backoff_base": 0.01,
    "backoff_max": 0.05,
    "cooldown": 1.0,
    "failure_threshold": 2,
    "failure_window": 30.0,
    "max_attempts": 4,
    "retries_per_channel": 1,
}


@pytest.fixture
def two_upstreams() -> Iterator[tuple[ServerThread, Recorder, ServerThread, Recorder]]:
    a, b = Recorder(), Recorder()
    with ServerThread(create_fake_openai(a)) as sa, ServerThread(create_fake_openai(b)) as sb:
        yield sa, a, sb, b


def _gateway(
    tmp_path: Path, channels: list[dict[str, Any]], routing: dict[str, Any] | None = None
) -> tuple[RunningGateway, ServerThread]:
    return start_gateway(
        fresh_database("sqlite", tmp_path, None),
        tmp_path / "data",
        upstreams=channels,
        model_server={"enabled": False},
        routing={**FAST_ROUTING, **(routing or {})},
    )


def _channel(name: str, server: ServerThread, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "base_url": server.url + "/v1",
        "api_key": f"sk-{name}-key",
        "models": ["fake-model", "fake-midstream-error", "fake-400"],
        **extra,
    }


def _chat(gw: RunningGateway, model: str = "fake-model", **extra: Any) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/chat/completions",
        json={"model": model, "messages": HI, **extra},
        headers={"authorization": f"Bearer {gw.admin_token}"},
        timeout=30,
    )


def _status(gw: RunningGateway) -> dict[str, Any]:
    """``/api/status`` as an admin sees it (channel names, circuits, last errors)."""
    response = httpx.get(
        gw.url + "/api/status", headers={"authorization": f"Bearer {gw.admin_token}"}
    )
    result: dict[str, Any] = response.json()
    return result


def test_failover_to_lower_priority_channel(tmp_path: Path, two_upstreams: Any) -> None:
    sa, a, sb, b = two_upstreams
    a.force_status = 503
    gw, server = _gateway(tmp_path, [_channel("primary", sa, priority=10), _channel("backup", sb)])
    try:
        response = _chat(gw)
    finally:
        server.__exit__()
    assert response.status_code == 200
    assert a.chat_count == 2  # one try and one retry on the primary
    assert b.chat_count == 1


def test_retry_budget_bounds_upstream_attempts(tmp_path: Path, two_upstreams: Any) -> None:
    sa, a, sb, b = two_upstreams
    a.force_status = b.force_status = 500
    gw, server = _gateway(
        tmp_path,
        [_channel("one", sa), _channel("two", sb)],
        {"max_attempts": 3, "failure_threshold": 100},
    )
    try:
        response = _chat(gw)
    finally:
        server.__exit__()
    assert response.status_code == 502
    assert a.chat_count + b.chat_count == 3


def test_client_errors_are_not_retried(tmp_path: Path, two_upstreams: Any) -> None:
    sa, a, sb, b = two_upstreams
    gw, server = _gateway(tmp_path, [_channel("one", sa, priority=1), _channel("two", sb)])
    try:
        response = _chat(gw, "fake-400")
    finally:
        server.__exit__()
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert a.chat_count == 1 and b.chat_count == 0


def test_rejected_channel_key_cools_it_and_fails_over(tmp_path: Path, two_upstreams: Any) -> None:
    sa, a, sb, b = two_upstreams
    a.force_status = 401
    gw, server = _gateway(tmp_path, [_channel("bad-key", sa, priority=1), _channel("ok", sb)])
    try:
        assert _chat(gw).status_code == 200
        assert _chat(gw).status_code == 200
        status = _status(gw)
    finally:
        server.__exit__()
    assert a.chat_count == 1  # cooled after the first rejection
    assert b.chat_count == 2
    bad = next(c for c in status["upstreams"] if c["name"] == "bad-key")
    assert bad["circuit"] == "open"


def test_cooldown_then_half_open_probe_recovers(tmp_path: Path, two_upstreams: Any) -> None:
    sa, a, sb, _b = two_upstreams
    a.force_status = 503
    gw, server = _gateway(
        tmp_path,
        [_channel("flaky", sa, priority=1), _channel("steady", sb)],
        {"retries_per_channel": 0},
    )
    try:
        for _ in range(4):
            assert _chat(gw).status_code == 200
        assert a.chat_count == 2  # threshold 2: then the circuit opened and it was skipped
        status = _status(gw)
        flaky = next(c for c in status["upstreams"] if c["name"] == "flaky")
        assert flaky["circuit"] == "open"
        a.force_status = None
        time.sleep(1.1)  # the cool-down passes: one probe goes to the flaky channel
        assert _chat(gw).status_code == 200
        assert a.chat_count == 3
        for _ in range(3):
            _chat(gw)
        status = _status(gw)
    finally:
        server.__exit__()
    assert a.chat_count == 6  # closed again: it takes the traffic of its tier
    assert next(c for c in status["upstreams"] if c["name"] == "flaky")["circuit"] == "closed"


def test_retry_after_is_respected(tmp_path: Path, two_upstreams: Any) -> None:
    sa, a, sb, _b = two_upstreams
    a.force_status, a.force_retry_after = 429, "5"
    gw, server = _gateway(tmp_path, [_channel("limited", sa, priority=1), _channel("spare", sb)])
    try:
        assert _chat(gw).status_code == 200
        assert _chat(gw).status_code == 200
        status = _status(gw)
    finally:
        server.__exit__()
    assert a.chat_count == 1
    limited = next(c for c in status["upstreams"] if c["name"] == "limited")
    assert 3.5 < limited["cooldown_remaining"] <= 5


def test_only_channel_rate_limited_returns_429_with_retry_after(
    tmp_path: Path, two_upstreams: Any
) -> None:
    sa, a, _sb, _b = two_upstreams
    a.force_status, a.force_retry_after = 429, "3"
    gw, server = _gateway(tmp_path, [_channel("only", sa)])
    try:
        response = _chat(gw)
    finally:
        server.__exit__()
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"


def test_no_retry_after_the_first_byte(tmp_path: Path, two_upstreams: Any) -> None:
    sa, a, sb, b = two_upstreams
    gw, server = _gateway(tmp_path, [_channel("first", sa, priority=1), _channel("second", sb)])
    try:
        response = _chat(gw, "fake-midstream-error", stream=True)
    finally:
        server.__exit__()
    assert response.status_code == 200
    assert '"error"' in response.text and response.text.rstrip().endswith("data: [DONE]")
    assert a.chat_count == 1 and b.chat_count == 0


def test_weighted_order_first_pick_matches_weights() -> None:
    from cong.channels.catalog import ModelRoute
    from cong.channels.routing import weighted_order

    def route(channel: str, weight: float, priority: int = 0) -> ModelRoute:
        return ModelRoute(
            id="m",
            provider=None,
            upstream_model="m",
            kind="chat",  # type: ignore[arg-type]
            vision=True,
            owned_by="x",
            channel=channel,
            priority=priority,
            weight=weight,
        )

    rng = random.Random(7)
    routes = [route("a", 1), route("b", 3), route("c", 6), route("low", 100, priority=-1)]
    firsts = [weighted_order(routes, rng)[0].channel for _ in range(2000)]
    for channel, share in (("a", 0.1), ("b", 0.3), ("c", 0.6)):
        assert abs(firsts.count(channel) / 2000 - share) <= 0.05 * max(share, 0.2)
    assert "low" not in firsts


def test_weighted_distribution_through_the_gateway(tmp_path: Path, two_upstreams: Any) -> None:
    sa, a, sb, b = two_upstreams
    gw, server = _gateway(
        tmp_path, [_channel("light", sa, weight=1), _channel("heavy", sb, weight=3)]
    )

    async def hammer() -> None:
        async with httpx.AsyncClient(
            headers={"authorization": f"Bearer {gw.admin_token}"},
            limits=httpx.Limits(max_connections=16),
            # The test asserts the distribution, not speed: on a loaded box 2,000
            # requests through one gateway process can take longer than httpx's 5 s.
            timeout=30.0,
        ) as client:
            semaphore = asyncio.Semaphore(16)

            async def one() -> None:
                async with semaphore:
                    r = await client.post(
                        gw.base_url + "/chat/completions",
                        json={"model": "fake-model", "messages": HI},
                    )
                    assert r.status_code == 200

            await asyncio.gather(*(one() for _ in range(2000)))

    try:
        asyncio.run(hammer())
    finally:
        server.__exit__()
    share = b.chat_count / 2000
    assert a.chat_count + b.chat_count == 2000
    assert abs(share - 0.75) <= 0.05 * 0.75


def test_channels_list_shows_a_cooling_channel(tmp_path: Path, two_upstreams: Any) -> None:
    import json
    import os
    import subprocess
    import sys

    sa, a, sb, _b = two_upstreams
    a.force_status = 401
    channels = [_channel("bad-key", sa, priority=1), _channel("ok", sb)]
    gw, server = _gateway(tmp_path, channels, {"cooldown": 60.0})
    try:
        assert _chat(gw).status_code == 200
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONG_")}
        env.update(
            CONG_DATABASE_URL=gw.settings.effective_database_url,
            CONG_DATA_DIR=str(gw.settings.data_dir),
            CONG_PUBLIC_URL=gw.url,
            CONG_ADMIN_TOKEN=gw.admin_token,
            CONG_UPSTREAMS=json.dumps(channels),
        )
        listed = subprocess.run(
            [sys.executable, "-m", "cong", "channels", "list"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    finally:
        server.__exit__()
    line = next(row for row in listed.splitlines() if "bad-key" in row)
    assert "circuit open" in line
    assert "circuit" not in next(row for row in listed.splitlines() if " ok " in row)

"""A client that leaves a priced stream early: the gateway reads on for up to
``billing.drain_seconds`` to learn the upstream's own usage (billing what was generated),
at most ``billing.max_concurrent_drains`` at a time."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.fakes.openai_upstream import Recorder, create_fake_openai
from tests.http.test_billing_edges import usage_row
from tests.support.billing import fund, set_price
from tests.support.gateway import RunningGateway, fresh_database, start_gateway
from tests.support.servers import ServerThread


def _leave_early(gw: RunningGateway, key: str) -> str:
    """Start a slow stream (10 s upstream), read two events, hang up; its request id."""
    with httpx.stream(
        "POST",
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "fake-slow", "stream": True, "messages": [{"role": "user", "content": "x"}]},
        timeout=30,
    ) as response:
        seen = 0
        for line in response.iter_lines():
            seen += line.startswith("data: ")
            if seen >= 2:
                break
        return response.headers["x-request-id"]


def _gateway(tmp_path: Path, url: str, **billing: object) -> tuple[RunningGateway, ServerThread]:
    return start_gateway(
        fresh_database("sqlite", tmp_path, None),
        tmp_path / "data",
        upstreams=[{"name": "slow", "base_url": url + "/v1", "models": ["fake-slow"]}],
        model_server={"enabled": False},
        billing={"price_cache_seconds": 0, **billing},
    )


def test_a_priced_stream_is_drained_for_its_real_usage(tmp_path: Path) -> None:
    recorder = Recorder()
    with ServerThread(create_fake_openai(recorder)) as upstream:
        gw, server = _gateway(tmp_path, upstream.url, drain_seconds=20)
        try:
            set_price(gw, "fake-slow", input_per_m=1_000_000, output_per_m=1_000_000)
            key = gw.create_key("leaver")
            fund(gw, "leaver", 1_000_000)
            request_id = _leave_early(gw, key)
            deadline = time.monotonic() + 20
            while not recorder.slow_finished and time.monotonic() < deadline:
                time.sleep(0.2)
            row = usage_row(gw, request_id)
        finally:
            server.__exit__()
    assert recorder.slow_finished  # read to the end, not cut at the disconnect
    assert row.end_reason == "client_disconnected"
    assert not row.estimated  # the upstream's own usage report (9 prompt, 3 completion)
    assert (row.prompt_tokens, row.completion_tokens) == (9, 3)


def test_drains_beyond_the_cap_stop_at_once_and_estimate(tmp_path: Path) -> None:
    recorder = Recorder()
    with ServerThread(create_fake_openai(recorder)) as upstream:
        gw, server = _gateway(tmp_path, upstream.url, drain_seconds=20, max_concurrent_drains=1)
        try:
            set_price(gw, "fake-slow", input_per_m=1_000_000, output_per_m=1_000_000)
            key = gw.create_key("leavers")
            fund(gw, "leavers", 1_000_000)
            first = _leave_early(gw, key)
            second = _leave_early(gw, key)  # the one drain slot is taken
            capped = usage_row(gw, second)
            sent = recorder.slow_chunks_sent
            time.sleep(1.0)
            assert recorder.slow_chunks_sent - sent <= 6  # only the first stream goes on
        finally:
            server.__exit__()
    assert capped.end_reason == "client_disconnected" and capped.estimated
    assert first != second

"""A key's last_used_at is written (batched, off the request path) after it is used."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import _upstreams
from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, api, auth, fresh_database, start_gateway


@pytest.fixture
def quick_gateway(tmp_path: Path, fake_openai: tuple[str, Recorder]) -> Iterator[RunningGateway]:
    running, server = start_gateway(
        fresh_database("sqlite", tmp_path, None),
        tmp_path / "data",
        upstreams=_upstreams(fake_openai[0]),
        model_server={"enabled": False},
        key_last_used_seconds=0.2,
    )
    try:
        yield running
    finally:
        server.__exit__()


def _stamps(gw: RunningGateway) -> dict[str, str | None]:
    keys = api(gw, "GET", "/api/keys?user=lu-ann", gw.admin_token).json()
    return {k["id"]: k["last_used_at"] for k in keys}


def test_last_used_at_is_written_after_use(quick_gateway: RunningGateway) -> None:
    gw = quick_gateway
    token = gw.create_key("lu-ann")
    gw.create_key("lu-ann")  # a second key, never used
    time.sleep(0.5)  # a few flush intervals: nothing to write yet
    assert set(_stamps(gw).values()) == {None}
    before = datetime.now(UTC)
    response = httpx.post(
        gw.base_url + "/chat/completions",
        headers=auth(token),
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    assert response.status_code == 200
    deadline = time.time() + 10
    stamps = _stamps(gw)
    while time.time() < deadline and not any(stamps.values()):
        time.sleep(0.1)
        stamps = _stamps(gw)
    used = [v for v in stamps.values() if v]
    assert len(used) == 1 and list(stamps.values()).count(None) == 1
    assert datetime.fromisoformat(used[0]) >= before - timedelta(seconds=1)

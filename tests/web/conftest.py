"""Gateways for the web sign-in tests. ``web_gateway`` trusts the test client
(127.0.0.1) as a proxy, so each test picks its own client address with
``X-Forwarded-For`` and the sign-in limits of one test do not touch another's;
``direct_gateway`` trusts no proxy. In both the gateway alone decides whom to believe
(uvicorn's own proxy-header handling, which trusts 127.0.0.1, is off)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import _upstreams
from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, fresh_database, start_gateway

WEB = {
    "trusted_proxies": ["127.0.0.1"],
    "login_attempts_per_account": 5,
    "login_attempts_per_ip": 8,
}


def _serve(
    factory: pytest.TempPathFactory, fake_url: str, **settings: Any
) -> Iterator[RunningGateway]:
    tmp = factory.mktemp("web")
    running, server = start_gateway(
        fresh_database("sqlite", tmp, None),
        tmp / "data",
        upstreams=_upstreams(fake_url),
        model_server={"enabled": False},
        server={"proxy_headers": False},
        **settings,
    )
    try:
        yield running
    finally:
        server.__exit__()


@pytest.fixture(scope="module")
def web_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: tuple[str, Recorder]
) -> Iterator[RunningGateway]:
    yield from _serve(tmp_path_factory, fake_openai[0], web=WEB)


@pytest.fixture(scope="module")
def direct_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: tuple[str, Recorder]
) -> Iterator[RunningGateway]:
    yield from _serve(tmp_path_factory, fake_openai[0])

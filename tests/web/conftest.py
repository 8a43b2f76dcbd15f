"""A gateway for the web sign-in tests: the test client (127.0.0.1) is a trusted proxy,
so each test picks its own client address with ``X-Forwarded-For`` and the sign-in
rate limits of one test do not touch another's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import _upstreams
from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, fresh_database, start_gateway

WEB = {
    "trusted_proxies": ["127.0.0.1"],
    "login_attempts_per_account": 5,
    "login_attempts_per_ip": 8,
}


@pytest.fixture(scope="module")
def web_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: tuple[str, Recorder]
) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp("web")
    running, server = start_gateway(
        fresh_database("sqlite", tmp, None),
        tmp / "data",
        upstreams=_upstreams(fake_openai[0]),
        model_server={"enabled": False},
        web=WEB,
        # The gateway alone decides whom to believe (uvicorn would trust 127.0.0.1 itself).
        server={"proxy_headers": False},
    )
    try:
        yield running
    finally:
        server.__exit__()


@pytest.fixture(scope="module")
def direct_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: tuple[str, Recorder]
) -> Iterator[RunningGateway]:
    """A gateway that trusts no proxy (clients connect to it directly)."""
    tmp = tmp_path_factory.mktemp("direct")
    running, server = start_gateway(
        fresh_database("sqlite", tmp, None),
        tmp / "data",
        upstreams=_upstreams(fake_openai[0]),
        model_server={"enabled": False},
        server={"proxy_headers": False},
    )
    try:
        yield running
    finally:
        server.__exit__()

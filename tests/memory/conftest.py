"""Gateways for the memory tests (SQLite and PostgreSQL): chat from the fake OpenAI
upstream, memory vectors from the fake bag-of-words embeddings upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EMBED_MODEL, upstreams_with_embeddings
from tests.fakes.embedding_upstream import EmbeddingRecorder
from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, start_gateway


def _memory_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("memory_settings")
    return dict(marker.kwargs) if marker else {}


@pytest.fixture
def memory_gateway(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    fake_openai: tuple[str, Recorder],
    fake_embeddings: tuple[str, EmbeddingRecorder],
) -> Iterator[RunningGateway]:
    running, server = start_gateway(
        database_url,
        tmp_path / "data",
        upstreams=upstreams_with_embeddings(
            fake_openai[0],
            fake_embeddings[0],
            ["fake-parrot", "fake-facts", "fake-tools", "fake-slow"],
        ),
        model_server={"enabled": False},
        memory={"embedding_model": EMBED_MODEL, **_memory_overrides(request)},
        web={"trusted_proxies": ["127.0.0.1"]},
        server={"proxy_headers": False},
    )
    try:
        yield running
    finally:
        server.__exit__()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "memory_settings(**kw): memory settings of the gateway")

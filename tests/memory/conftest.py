"""Gateways for the memory tests (SQLite and PostgreSQL): chat from the fake OpenAI
upstream, memory vectors from the fake bag-of-words embeddings upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _upstreams
from tests.fakes.embedding_upstream import EmbeddingRecorder, create_fake_embeddings
from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, start_gateway
from tests.support.servers import ServerThread

EMBED_MODEL = "bow-embed"


@pytest.fixture(scope="session")
def fake_embeddings() -> Iterator[tuple[str, EmbeddingRecorder]]:
    recorder = EmbeddingRecorder()
    with ServerThread(create_fake_embeddings(recorder)) as server:
        yield server.url, recorder


def memory_upstreams(openai_url: str, embed_url: str) -> list[dict[str, Any]]:
    channels = _upstreams(openai_url)
    channels[0] = {
        **channels[0],
        "models": [*channels[0]["models"], "fake-parrot", "fake-facts", "fake-tools"],
    }  # type: ignore[list-item]
    channels.append(
        {
            "name": "bow",
            "base_url": embed_url + "/v1",
            "api_key": "sk-embed-secret",
            "embedding_models": [EMBED_MODEL],
        }
    )
    return channels


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
        upstreams=memory_upstreams(fake_openai[0], fake_embeddings[0]),
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

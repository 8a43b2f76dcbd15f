"""Shared fixtures: fake upstreams, a throw-away PostgreSQL, and running gateways."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.embedding_upstream import EmbeddingRecorder, create_fake_embeddings
from tests.fakes.openai_upstream import Recorder, create_fake_openai
from tests.support.gateway import RunningGateway, fresh_database, start_gateway
from tests.support.postgres import PostgresCluster
from tests.support.servers import ServerThread

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FAKE_MODELS = [
    "fake-model",
    "fake-echo",
    "fake-500",
    "fake-429",
    "fake-400",
    "fake-401",
    "fake-midstream-error",
    "fake-slow",
]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    configured = os.environ.get("CONG_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    try:
        cluster = PostgresCluster()
        url = cluster.start()
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL unavailable ({exc}); `make test` installs it")
    try:
        yield url
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    pg = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    return fresh_database(request.param, tmp_path, pg)


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    with ServerThread(create_fake_openai(recorder)) as server:
        yield server.url, recorder


EMBED_MODEL = "bow-embed"  # the fake bag-of-words embeddings upstream's model


@pytest.fixture(scope="session")
def fake_embeddings() -> Iterator[tuple[str, EmbeddingRecorder]]:
    recorder = EmbeddingRecorder()
    with ServerThread(create_fake_embeddings(recorder)) as server:
        yield server.url, recorder


def upstreams_with_embeddings(
    openai_url: str, embed_url: str, extra_models: list[str]
) -> list[dict[str, Any]]:
    """The usual channels, ``extra_models`` added to the healthy one, and channel "bow"
    serving ``EMBED_MODEL`` from the fake embeddings upstream."""
    channels: list[dict[str, Any]] = _upstreams(openai_url)
    channels[0] = {**channels[0], "models": [*channels[0]["models"], *extra_models]}
    channels.append(
        {
            "name": "bow",
            "base_url": embed_url + "/v1",
            "api_key": "sk-embed-secret",
            "embedding_models": [EMBED_MODEL],
        }
    )
    return channels


def _upstreams(fake_url: str) -> list[dict[str, object]]:
    """The healthy models on channel "fake"; each failure scenario on a channel of its own
    (a failing channel cools down, which must not disturb the other tests)."""
    healthy = ["fake-model", "fake-echo", "fake-slow"]
    channels: list[dict[str, object]] = [
        {
            "name": "fake",
            "base_url": fake_url + "/v1",
            "api_key": "sk-upstream-secret-value",
            "models": healthy,
            "embedding_models": ["fake-embed"],
            "text_only_models": ["fake-echo"],
        }
    ]
    for model in FAKE_MODELS:
        if model not in healthy:
            channels.append(
                {
                    "name": model,
                    "base_url": fake_url + "/v1",
                    "api_key": "sk-upstream-secret-value",
                    "models": [model],
                }
            )
    return channels


@pytest.fixture
def gateway(
    database_url: str, tmp_path: Path, fake_openai: tuple[str, Recorder]
) -> Iterator[RunningGateway]:
    """A gateway on SQLite and on PostgreSQL, routing to the fake upstream."""
    running, server = start_gateway(
        database_url,
        tmp_path / "data",
        upstreams=_upstreams(fake_openai[0]),
        model_server={"enabled": False},
        aliases={"gpt-4o": "fake-model", "text-embedding-3-small": "fake-embed"},
    )
    try:
        yield running
    finally:
        server.__exit__()


@pytest.fixture(scope="module")
def sqlite_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_openai: tuple[str, Recorder]
) -> Iterator[RunningGateway]:
    """One SQLite gateway shared by a module's tests (for the many read-only checks)."""
    tmp = tmp_path_factory.mktemp("gw")
    running, server = start_gateway(
        fresh_database("sqlite", tmp, None),
        tmp / "data",
        upstreams=_upstreams(fake_openai[0]),
        model_server={"enabled": False},
        aliases={"gpt-4o": "fake-model", "text-embedding-3-small": "fake-embed"},
    )
    try:
        yield running
    finally:
        server.__exit__()

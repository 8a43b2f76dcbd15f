"""Gateways for the long-file and result-file tests: chat from the fake OpenAI upstream
(``fake-files`` makes files), vectors from the fake bag-of-words embeddings upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EMBED_MODEL, upstreams_with_embeddings
from tests.fakes.embedding_upstream import EmbeddingRecorder
from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, start_gateway


def _overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("files_settings")
    return dict(marker.kwargs) if marker else {}


@pytest.fixture
def files_gateway(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path: Path,
    fake_openai: tuple[str, Recorder],
    fake_embeddings: tuple[str, EmbeddingRecorder],
) -> Iterator[RunningGateway]:
    """A gateway (SQLite and PostgreSQL) whose files settings a test may change with
    ``@pytest.mark.files_settings(...)``."""
    fake_openai[1].files_to_create = [
        ("hello.py", 'print("xin chào")\n'),
        ("số liệu.csv", "tháng,doanh thu\n1,1500\n"),
    ]
    fake_openai[1].one_file_per_answer = False
    running, server = start_gateway(
        database_url,
        tmp_path / "data",
        upstreams=upstreams_with_embeddings(
            fake_openai[0], fake_embeddings[0], ["fake-files", "fake-tools"]
        ),
        model_server={"enabled": False},
        memory={"embedding_model": EMBED_MODEL},
        files=_overrides(request),
        public_url="https://cong.example",
    )
    try:
        yield running
    finally:
        server.__exit__()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "files_settings(**kw): files settings of the gateway")

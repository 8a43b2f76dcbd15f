"""``cong serve`` as a process: first-start admin key, restarts, several workers."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.processes import ServeProcess


def test_first_start_prints_admin_key_once(tmp_path: Path) -> None:
    env = {"CONG_DATA_DIR": str(tmp_path / "data")}
    first = ServeProcess(tmp_path, env, "--no-model-server")
    try:
        first.wait_healthy()
        line = first.wait_for_line("Admin API key")
        token = line.rsplit(" ", 1)[-1]
        assert token.startswith("sk-")
        assert f"{first.url}/v1" in first.output
        models = httpx.get(first.url + "/v1/models", headers={"authorization": f"Bearer {token}"})
        assert models.status_code == 200
    finally:
        first.stop()
    second = ServeProcess(tmp_path, env, "--no-model-server")
    try:
        second.wait_healthy()
        assert "Admin API key" not in second.output
        assert (
            httpx.get(
                second.url + "/v1/models", headers={"authorization": f"Bearer {token}"}
            ).status_code
            == 200
        )
    finally:
        second.stop()


def test_several_workers_and_fixed_admin_token(tmp_path: Path) -> None:
    token = "sk-operator-chosen-admin-token"
    env = {"CONG_DATA_DIR": str(tmp_path / "data"), "CONG_ADMIN_TOKEN": token, "CONG_WORKERS": "2"}
    server = ServeProcess(tmp_path, env, "--no-model-server")
    try:
        server.wait_healthy()
        assert token not in server.output
        for _ in range(10):
            response = httpx.get(
                server.url + "/v1/models", headers={"authorization": f"Bearer {token}"}
            )
            assert response.status_code == 200
    finally:
        server.stop()

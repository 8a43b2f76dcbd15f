"""The ``cong`` command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def cong(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CONG_")}
    environment = {**inherited, "CONG_DATA_DIR": str(tmp_path / "data"), **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "cong", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_users_and_keys_lifecycle(tmp_path: Path) -> None:
    assert "Created user alice" in cong(tmp_path, "users", "create", "alice").stdout
    listed = cong(tmp_path, "users", "list").stdout
    assert "alice" in listed and "user" in listed
    duplicate = cong(tmp_path, "users", "create", "alice", check=False)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr

    token = cong(
        tmp_path,
        "keys",
        "create",
        "--user",
        "alice",
        "--name",
        "laptop",
        "--models",
        "gpt-4o,all-minilm-l6-v2",
    ).stdout.strip()
    assert token.startswith("sk-") and len(token) == 55
    keys = cong(tmp_path, "keys", "list", "--user", "alice").stdout
    public_id = token[3:15]
    assert public_id in keys and "laptop" in keys and "all-minilm-l6-v2,gpt-4o" in keys
    assert token not in keys and token[15:] not in keys
    assert token[-4:] in keys  # the masked form shows the last 4

    assert "Revoked" in cong(tmp_path, "keys", "revoke", public_id).stdout
    assert "revoked" in cong(tmp_path, "keys", "list").stdout
    again = cong(tmp_path, "keys", "revoke", public_id, check=False)
    assert again.returncode == 1 and "No active API key" in again.stderr
    unknown_user = cong(tmp_path, "keys", "create", "--user", "bob", check=False)
    assert unknown_user.returncode == 1 and "No user named 'bob'" in unknown_user.stderr


def test_config_show_masks_secrets(tmp_path: Path) -> None:
    config = tmp_path / "custom.toml"
    config.write_text(
        'port = 9123\n[[upstreams]]\nname = "vllm"\nbase_url = "http://10.0.0.5:8000/v1"\n'
        'api_key = "sk-very-secret-upstream"\nmodels = ["qwen"]\n'
        '[aliases]\nqwen-latest = "qwen"\n'
    )
    shown = cong(
        tmp_path,
        "config",
        "show",
        env={
            "CONG_CONFIG": str(config),
            "CONG_ADMIN_TOKEN": "sk-admin-secret-token",
            "CONG_DATABASE_URL": "postgresql+asyncpg://cong:hunter2@db:5432/cong",
            "CONG_WORKERS": "3",
            "CONG_MODEL_SERVER__THREADS": "2",
        },
    ).stdout
    for secret in ("sk-very-secret-upstream", "sk-admin-secret-token", "hunter2"):
        assert secret not in shown
    settings = json.loads(shown)
    assert settings["port"] == 9123 and settings["workers"] == 3
    assert settings["model_server"]["threads"] == 2
    assert settings["upstreams"][0]["models"] == ["qwen"]
    assert settings["aliases"] == {"qwen-latest": "qwen"}
    assert settings["database_url"] == "postgresql+asyncpg://cong:***@db:5432/cong"


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = cong(
        tmp_path, "config", "show", env={"CONG_CONFIG": str(tmp_path / "no.toml")}, check=False
    )
    assert result.returncode == 1
    assert "config file not found" in result.stderr


@pytest.mark.parametrize("command", [[], ["serve"], ["keys"], ["users", "create"]])
def test_help_is_available(tmp_path: Path, command: list[str]) -> None:
    result = cong(tmp_path, *command, "--help")
    assert "usage: cong" in result.stdout


def test_channels_commands(tmp_path: Path, fake_openai: tuple[str, object]) -> None:
    url = fake_openai[0]
    added = cong(
        tmp_path,
        "channels",
        "add",
        "lab",
        "--base-url",
        url + "/v1",
        "--key",
        "sk-lab-cli-secret-9876",
        "--models",
        "lab/qwen",
        "--model-map",
        "lab/qwen=fake-model",
        "--priority",
        "3",
    )
    assert "Added channel lab" in added.stdout
    listed = cong(tmp_path, "channels", "list").stdout
    assert "lab" in listed and "…9876" in listed and "sk-lab-cli-secret" not in listed
    tested = cong(tmp_path, "channels", "test", "lab")
    assert tested.stdout.startswith("OK: lab/qwen answered in")
    assert "disabled" in cong(tmp_path, "channels", "disable", "lab").stdout
    assert "disabled" in cong(tmp_path, "channels", "list").stdout
    assert "enabled" in cong(tmp_path, "channels", "enable", "lab").stdout
    cong(
        tmp_path, "channels", "add", "dead", "--base-url", "http://127.0.0.1:9/v1", "--models", "x"
    )
    failed = cong(tmp_path, "channels", "test", "dead", check=False)
    assert failed.returncode == 1 and "FAILED" in failed.stderr
    assert "Removed" in cong(tmp_path, "channels", "remove", "lab").stdout
    assert "lab/qwen" not in cong(tmp_path, "channels", "list").stdout
    secret_file = (tmp_path / "data" / "cong.db").read_bytes()
    assert b"sk-lab-cli-secret-9876" not in secret_file
    # Mistakes get one line naming the option, and the embedded channel is read-only here.
    bad = cong(tmp_path, "channels", "add", "bad", "--base-url", "ftp://x", check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("error: --base-url: ")
    assert "Traceback" not in bad.stderr and "pydantic" not in bad.stderr
    embedded = cong(tmp_path, "channels", "disable", "embedded", check=False)
    assert embedded.returncode == 1 and "change it there" in embedded.stderr
    for days in ("0", "99999999"):
        expires = cong(tmp_path, "keys", "create", "--user", "x", "--expires", days, check=False)
        assert expires.returncode == 2 and "1 to 36500 days" in expires.stderr

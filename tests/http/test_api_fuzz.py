"""Schemathesis over ``/api/openapi.json``: every operation, with a user key and with an
admin key, stateful sequences on (ids from one answer feed the next call); no answer
may be a server error or a status the document does not declare.

Deterministic: a fixed number of examples per operation (not a time budget, so a loaded
machine runs the same cases, only slower), a fixed seed, no example database, and a
fresh gateway for each key, so one run's changes never shape the other's. The coverage
phase (every boundary case the document defines, ~3,700 requests) runs with the admin
key, which reaches every operation; the user key gets the examples, fuzzing and
stateful phases. The long mode is opt-in, outside ``make test``:
``CONG_FUZZ_LONG=1`` (100 examples per operation, coverage for both keys; another seed
with ``CONG_FUZZ_SEED``), see docs/reliability.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway, api, fresh_database, start_gateway

LONG = os.environ.get("CONG_FUZZ_LONG") == "1"
EXAMPLES = 100 if LONG else 8  # per operation, fuzzing and stateful phases
SEED = int(os.environ.get("CONG_FUZZ_SEED", "20261202"))
RUN_TIMEOUT = 7200 if LONG else 900  # seconds: the subprocess is killed past this
ST = Path(sys.executable).with_name("st")
ROOT = Path(__file__).resolve().parents[2]  # the repository (tests.support.fuzz_hooks)
CONFIG = ROOT / "tests" / "support" / "schemathesis.toml"  # per-operation phases


@pytest.fixture
def fuzz_gateway(tmp_path: Path, fake_openai: tuple[str, Recorder]) -> Iterator[RunningGateway]:
    running, server = start_gateway(
        fresh_database("sqlite", tmp_path, None),
        tmp_path / "data",
        upstreams=[{"name": "fake", "base_url": fake_openai[0] + "/v1", "models": ["fake-model"]}],
        model_server={"enabled": False},
        # Fuzzed channels point anywhere: their test calls must end quickly.
        timeouts={"connect": 2, "first_byte": 5, "idle": 5, "total": 10},
    )
    try:
        # Registration by code: a register call is refused with 400 (no valid code), not
        # always with "registration_closed" 403 as when it is off, so whether the run
        # reaches it does not hang on the fuzzer happening to open registration first.
        opened = api(
            running,
            "PUT",
            "/api/settings/registration",
            running.admin_token,
            json={"mode": "code", "group": None},
        )
        assert opened.status_code == 200, opened.text
        yield running
    finally:
        server.__exit__()


def _run(gw: RunningGateway, token: str, protected: list[str], phases: str, report: Path) -> str:
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.support.fuzz_hooks",
        "CONG_FUZZ_PROTECTED": ",".join(protected),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [
            str(ST),
            "--config-file",
            str(CONFIG),
            "run",
            gw.url + "/api/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error,status_code_conformance",
            "--phases",
            phases,
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            str(SEED),
            "--generation-database",
            "none",
            # Hypothesis's timing health check fails a run on a loaded machine; what
            # the cases are does not depend on it.
            "--suppress-health-check",
            "too_slow",
            "--request-timeout",
            "20",
            "--workers",
            "1",
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        env=env,
        cwd=report.parent,  # Schemathesis keeps its state in ./.schemathesis
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return output


def _auth_warning(output: str) -> str:
    """The block of Schemathesis's "only 401/403" warning (empty when there is none)."""
    start = output.find("Authentication failed")
    if start < 0:
        return ""
    end = output.find("💡", start)
    return output[start : end if end > 0 else None]


@pytest.mark.parametrize("who", ["user", "admin"])
def test_management_api_fuzz_finds_no_server_error(
    fuzz_gateway: RunningGateway, who: str, tmp_path: Path
) -> None:
    gw = fuzz_gateway
    user_key = gw.create_key("fuzz-user")
    me = {name: api(gw, "GET", "/api/me", token).json() for name, token in
          (("user", user_key), ("admin", gw.admin_token))}  # fmt: skip
    protected = []
    for data in me.values():
        protected += [data["user"]["name"], str(data["user"]["id"]), data["key"]["id"]]
    token = user_key if who == "user" else gw.admin_token
    phases = "examples,coverage,fuzzing,stateful"
    if who == "user" and not LONG:
        phases = "examples,fuzzing,stateful"
    output = _run(gw, token, protected, phases, tmp_path / "junit.xml")
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) > 200, output[-3000:]
    assert "Stateful" in output
    if who == "admin":  # the admin key stayed valid throughout: every /api operation reached
        refused_only = re.findall(r"^\s+- [A-Z]+ (/api/\S*)$", _auth_warning(output), re.M)
        assert not refused_only, output[-3000:]
    assert api(gw, "GET", "/api/me", token).status_code == 200
    # The figures docs/reliability.md quotes.
    print(f"schemathesis[{who}]: {generated.group(1)} test cases, 0 failures")

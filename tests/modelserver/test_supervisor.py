"""The supervisor restarts a dead or stuck model server, never a slow one, and says why."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from cong.channels.model_server import ModelServerSupervisor, free_port
from cong.settings import ModelServerSettings

FAKE = str(Path(__file__).parents[1] / "fakes" / "model_server.py")
WATCHDOG = 1.5


class Said(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


def _start(tmp_path: Path, mode: str, *, delay: float = 0.0) -> tuple[ModelServerSupervisor, Said]:
    settings = ModelServerSettings(
        port=free_port("127.0.0.1"), health_interval=0.1, watchdog_seconds=WATCHDOG
    )
    command = [sys.executable, FAKE, "--port", str(settings.port), "--mode", mode]
    command += ["--delay", str(delay), "--after", "0.5"]
    said = Said()
    supervisor = ModelServerSupervisor(settings, tmp_path, said, command=command)
    supervisor.start()
    assert supervisor.wait_ready(20), said
    return supervisor, said


def _wait_restart(supervisor: ModelServerSupervisor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while supervisor.restarts == 0 and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_slow_busy_server_is_not_restarted(tmp_path: Path) -> None:
    # Each health answer takes 0.8 s (the checks run every 0.1 s): slow, but it answers
    # and its decode progress moves.
    supervisor, said = _start(tmp_path, "slow", delay=0.8)
    try:
        _wait_restart(supervisor, 4 * WATCHDOG)
        assert supervisor.restarts == 0, said
        assert supervisor.state == "ready"
    finally:
        supervisor.stop()


def test_a_stuck_server_is_restarted_with_its_cause(tmp_path: Path) -> None:
    supervisor, said = _start(tmp_path, "stuck")
    try:
        _wait_restart(supervisor, 10 * WATCHDOG)
        assert supervisor.restarts >= 1
        cause = "made no decode progress"
        assert any(cause in line for line in said), said
        state = json.loads((tmp_path / "model-server.json").read_text())
        assert cause in state["last_restart_cause"]
    finally:
        supervisor.stop()


def test_a_self_reported_stall_restarts_at_once(tmp_path: Path) -> None:
    supervisor, said = _start(tmp_path, "stalled")
    try:
        _wait_restart(supervisor, 10 * WATCHDOG)
        assert supervisor.restarts >= 1
        # The model server's own verdict is the cause, not the supervisor's progress watch.
        assert supervisor.last_restart_cause == "stalled: test: decode stuck", said
    finally:
        supervisor.stop()

"""The model server's log (``<data dir>/logs/model-server.log``) says what happened, not
what llama.cpp read: no load detail (over a thousand lines per model) unless the gateway
runs at debug level, our own start lines always, and llama.cpp's errors kept (a file
that cannot load says why)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cong.channels.model_server import ModelServerSupervisor, free_port, model_server_command
from cong.settings import EmbeddedChatModelSettings, ModelServerSettings

START_TIMEOUT = 120.0


def _gguf() -> str:
    from cong.modelserver.options import ServerOptions

    return ServerOptions().resolved_chat_model_path()


def _started_log(tmp_path: Path, log_level: str) -> list[str]:
    """The log of a model server the supervisor started (a GGUF given by path, as with
    ``chat_model_path``, and an extra model), once it is ready."""
    settings = ModelServerSettings(
        port=free_port("127.0.0.1"),
        chat_model_path=_gguf(),
        models=[EmbeddedChatModelSettings(id="second", path=_gguf(), context=512)],
        context_size=512,
        threads=1,
        parallel=1,
    )
    # Chat only: the embedding model has nothing to do with llama.cpp's log.
    command = [*model_server_command(settings, settings.port, log_level), "--no-embeddings"]
    supervisor = ModelServerSupervisor(settings, tmp_path, lambda line: None, command=command)
    supervisor.start()
    try:
        assert supervisor.wait_ready(START_TIMEOUT), supervisor.log_file.read_text()
    finally:
        supervisor.stop()
    return supervisor.log_file.read_text(errors="replace").splitlines()


def test_the_log_of_a_started_model_server_has_no_llama_cpp_load_detail(tmp_path: Path) -> None:
    lines = _started_log(tmp_path, "info")  # the gateway's default level
    text = "\n".join(lines)
    assert "chat model smollm2-135m-instruct loaded in" in text
    assert "chat model second loaded in" in text
    assert '"event":"ready"' in text
    for detail in ("llama_model_loader", "llama_context", "print_info", "load_tensors"):
        assert detail not in text, text
    assert len(lines) < 10, text


def test_at_debug_level_llama_cpp_load_detail_is_kept(tmp_path: Path) -> None:
    lines = _started_log(tmp_path, "debug")
    detail = [line for line in lines if " DEBUG llama.cpp: " in line]
    assert any("llama_model_loader" in line for line in detail)
    assert any("llama_context" in line for line in detail)
    assert any("chat model second loaded in" in line for line in lines)


def test_a_file_that_cannot_load_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    with open(_gguf(), "rb") as whole:
        broken.write_bytes(whole.read(3_000_000))  # the header, not the tensors
    command = [sys.executable, "-m", "cong.modelserver", "--port", "0", "--no-embeddings"]
    result = subprocess.run(
        [*command, "--threads", "1", "--chat-model-path", str(broken)],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if " ERROR llama.cpp: " in line]
    reason = "error loading model: tensor 'token_embd.weight' data is not within the file bounds"
    assert any(reason in line for line in errors), result.stderr[-3000:]

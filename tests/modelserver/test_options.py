"""Command-line options and small helpers (pure, no model)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cong.modelserver.kv_slots import prompt_chunk
from cong.modelserver.options import ExtraChatModel, parse_options


def test_defaults_resolve_packaged_models() -> None:
    options = parse_options([])
    assert (options.host, options.port, options.context_size) == ("127.0.0.1", 0, 8192)
    assert options.thread_count == os.cpu_count()
    assert Path(options.resolved_chat_model_path()).name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert Path(options.resolved_chat_model_path()).is_file()
    assert (Path(options.resolved_embedding_model_path()) / "modules.json").is_file()


def test_flags() -> None:
    options = parse_options(["--no-chat", "--threads", "3", "--port", "9000"])
    assert not options.chat and options.embeddings
    assert options.thread_count == 3 and options.port == 9000
    with pytest.raises(SystemExit):
        parse_options(["--no-chat", "--no-embeddings"])
    with pytest.raises(SystemExit):
        parse_options(["--max-queue", "0"])


def test_prompt_chunks_never_leave_a_single_token() -> None:
    assert prompt_chunk(7, 3) == 3
    assert prompt_chunk(4, 3) == 2  # 3 would leave one token for a later batch
    assert prompt_chunk(513, 512) == 511
    assert prompt_chunk(1, 512) == 1  # a one-token prompt is all there is
    assert prompt_chunk(5, 1) == 0  # one token of room: wait for the next step


def test_extra_chat_models() -> None:
    options = parse_options(
        ["--extra-chat-model", '{"id": "qwen", "path": "/m/q.gguf", "context": 32768}']
    )
    assert options.extra_chat_models == [ExtraChatModel("qwen", "/m/q.gguf", 32768)]
    assert options.kv_cells(32768) == 65536
    with pytest.raises(SystemExit):
        parse_options(["--extra-chat-model", '{"path": "/m/q.gguf"}'])

"""Command-line options and small helpers (pure, no model)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cong.modelserver.chat_model import _batches
from cong.modelserver.options import parse_options


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


def test_prompt_batches_never_leave_a_single_token() -> None:
    assert _batches(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert [len(b) for b in _batches(list(range(513)), 512)] == [511, 2]
    assert _batches([7], 512) == [[7]]
    assert _batches([], 512) == []

"""The embedding model's ONNX Runtime path for short texts: exported once into its cache,
the same vectors as sentence-transformers on PyTorch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cong.modelserver.embedding_model import SMALL_BATCH, EmbeddingModel
from cong.modelserver.options import ServerOptions
from tests.modelserver.conftest import EMBEDDING_MODEL

TEXTS = [
    "What is the name of my dog?",
    "Tên con chó của tôi là gì?",
    "Which city did I move to last year for work?",
    "word " * 400,  # longer than the model's 256 tokens: truncated the same way
]


def _model(cache: Path | None) -> EmbeddingModel:
    path = ServerOptions().resolved_embedding_model_path()
    return EmbeddingModel(EMBEDDING_MODEL, path, batch_size=32, onnx_cache=cache)


def test_short_texts_match_pytorch_and_the_export_is_reused(tmp_path: Path) -> None:
    model = _model(tmp_path)
    assert model.runtime == "onnxruntime"
    exported = list(tmp_path.glob("*.onnx"))
    assert len(exported) == 1
    assert len(TEXTS) <= SMALL_BATCH
    short, tokens = model.encode(TEXTS)  # ONNX Runtime (a few texts)
    batch, _ = model.encode(TEXTS * 2)  # PyTorch (a batch)
    assert short.shape == (len(TEXTS), model.dimensions)
    assert np.allclose(short, batch[: len(TEXTS)], atol=1e-4)
    assert np.allclose(np.linalg.norm(short, axis=1), 1.0, atol=1e-5)
    assert tokens == sum(model.token_counts(TEXTS))
    one, _ = model.encode([TEXTS[1]])  # no padding: the same vector as in the batch
    assert np.allclose(one[0], batch[1], atol=1e-4)

    stamp = exported[0].stat().st_mtime_ns
    again = _model(tmp_path)
    assert again.runtime == "onnxruntime"
    assert [p.stat().st_mtime_ns for p in tmp_path.glob("*.onnx")] == [stamp]


def test_no_cache_keeps_pytorch() -> None:
    model = _model(None)
    assert model.runtime == "torch"
    vectors, _ = model.encode(TEXTS[:2])
    assert vectors.shape == (2, model.dimensions)
    # token arrays ("hello world" in WordPiece ids) through PyTorch, mixed with text
    mixed, tokens = model.encode([[7592, 2088], "hello world"])
    assert np.allclose(mixed[0], mixed[1], atol=1e-4) and tokens == 8


def test_the_option_turns_it_off() -> None:
    assert ServerOptions(onnx_cache="").resolved_onnx_cache() is None
    assert ServerOptions(onnx_cache="/x").resolved_onnx_cache() == Path("/x")
    assert ServerOptions().resolved_onnx_cache() is not None

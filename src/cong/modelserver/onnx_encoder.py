"""The embedding model run by ONNX Runtime, for short inputs.

A question to search memories with, a chat's query for a long file: one or a few short
texts, on the request path. PyTorch spends most of such a call on per-operator overhead;
ONNX Runtime runs the same graph about twice as fast on one thread
(``bench/memory_retrieval.py --only latency``), with the same vectors (cosine 1.0 against
sentence-transformers). Batches still go through sentence-transformers, on every core.

The graph is exported from the loaded model once, with ``torch.onnx``, into a cache folder
keyed by the model's files and the library versions (nothing is downloaded); later starts
load it in well under a second. A model whose pipeline is not a transformer followed by
mean pooling (and normalisation) is left to PyTorch, as is any failure to export or load.
"""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("cong.modelserver")

OUTPUT = "last_hidden_state"
TRANSFORMER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/cong/onnx`` (``~/.cache/cong/onnx``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cong" / "onnx"


def _mean_pooled(model: Any) -> bool:
    """A sentence-transformers pipeline this module reproduces: Transformer, mean Pooling,
    then Normalize or nothing (vectors are normalised here either way)."""
    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if names[:2] != ["Transformer", "Pooling"] or names[2:] not in ([], ["Normalize"]):
        return False
    pooling = modules[1]
    return getattr(pooling, "pooling_mode", None) == "mean" and getattr(
        pooling, "include_prompt", True
    )


def _features(model: Any, texts: list[str]) -> dict[str, Any]:
    """The model's own tokenisation (truncation, lower-casing) as tensors."""
    prepare = getattr(model, "preprocess", None) or model.tokenize
    return dict(prepare(texts))


def _fingerprint(path: str, input_names: list[str]) -> str:
    """The model's files (names, sizes and contents) and the versions that shape the
    exported graph."""
    import onnxruntime
    import torch
    import transformers

    digest = hashlib.sha256()
    digest.update(
        f"{torch.__version__}|{transformers.__version__}|{onnxruntime.__version__}|"
        f"{OPSET}|{','.join(input_names)}".encode()
    )
    root = Path(path)
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(root)).encode())
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:24]


def _export(model: Any, input_names: list[str], target: Path) -> None:
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = model[0].auto_model.eval()  # a submodule: weights, not constants

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            named = dict(zip(input_names, inputs, strict=True))
            return self.transformer(**named).last_hidden_state

    sample = _features(model, ["an example sentence to trace the graph with"])
    axes = {name: {0: "batch", 1: "tokens"} for name in [*input_names, OUTPUT]}
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.part")
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python control flow
        torch.onnx.export(
            LastHidden(),
            tuple(sample[name] for name in input_names),
            str(partial),
            input_names=input_names,
            output_names=[OUTPUT],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    partial.replace(target)  # atomic: another process never reads half a file


class OnnxEncoder:
    """Unit-length mean-pooled vectors of a few texts, on one thread."""

    def __init__(self, model: Any, session: Any, input_names: list[str]) -> None:
        self._model = model  # its tokenizer settings (truncation, lower-casing) are kept
        self._session = session
        self._inputs = input_names

    @classmethod
    def load(cls, model: Any, path: str, cache_dir: Path) -> OnnxEncoder | None:
        """The ONNX twin of the sentence-transformers ``model`` loaded from ``path``
        (exported on first use into ``cache_dir``); None when it cannot be had."""
        if not _mean_pooled(model):
            return None
        try:
            import onnxruntime

            input_names = [n for n in _features(model, ["x"]) if n in TRANSFORMER_INPUTS]
            target = cache_dir / f"{_fingerprint(path, input_names)}.onnx"
            if not target.exists():
                _export(model, input_names, target)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            # No busy-waiting worker threads beside the chat decoder and the gateway.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(
                str(target), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # an old onnxruntime, an unexportable model, a full disk
            reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            log.warning("embedding model stays on PyTorch (ONNX Runtime: %s)", reason)
            return None
        return cls(model, session, input_names)

    def encode(self, texts: list[str]) -> np.ndarray:
        features = _features(self._model, texts)
        return self.encode_features({name: features[name].numpy() for name in self._inputs})

    def encode_features(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """Vectors of already tokenized inputs (``input_ids``, ``attention_mask`` …)."""
        feeds = {name: feeds[name] for name in self._inputs}
        hidden = self._session.run([OUTPUT], feeds)[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        summed = (hidden * mask).sum(axis=1)
        vectors = summed / np.maximum(mask.sum(axis=1), np.float32(1e-9))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.asarray(vectors / np.maximum(norms, np.float32(1e-12)), dtype=np.float32)

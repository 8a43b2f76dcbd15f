"""The sentence-transformers embedding model, run on its own thread.

Encoding runs on a dedicated single-thread executor, so embeddings never wait behind
chat generation (which has its own thread) and never block the event loop. A few short
texts (a question to search memories with, a chat's query) are encoded on one intra-op
thread, by ONNX Runtime when the model allows it (``onnx_encoder.py``: about twice as
fast as PyTorch for them), else by PyTorch: as fast as two threads on an idle machine,
and on a busy one (chat decoding, the gateway, a database) several times faster at the
95th percentile, because no OpenMP workers spin against the other threads for the cores
(``bench/memory_retrieval.py --only latency``). Batches use every core, through PyTorch.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from cong.modelserver.onnx_encoder import OnnxEncoder

SMALL_BATCH = 4  # texts encoded on one intra-op thread


class EmbeddingModel:
    def __init__(
        self, model_id: str, path: str, *, batch_size: int, onnx_cache: Path | None = None
    ) -> None:
        """``onnx_cache``: where the ONNX Runtime graph is kept (None: PyTorch only)."""
        from sentence_transformers import SentenceTransformer  # heavy: import on load only

        self.id = model_id
        self.path = path
        self.batch_size = batch_size
        self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        model: Any = self._model
        dimension = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        self.dimensions = int(dimension())
        self.max_tokens = int(model.max_seq_length)
        self._tokenizer: Any = self._model.tokenizer
        self.vocab_size = len(self._tokenizer)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embeddings")
        import torch  # loaded by sentence-transformers above

        self._torch: Any = torch
        self._all_threads = int(torch.get_num_threads())
        self._threads = self._all_threads
        self._onnx = OnnxEncoder.load(model, path, onnx_cache) if onnx_cache else None

    @property
    def runtime(self) -> str:
        """What encodes a few short texts: ``onnxruntime`` or ``torch``."""
        return "onnxruntime" if self._onnx is not None else "torch"

    def token_counts(self, texts: list[str]) -> list[int]:
        """Tokens each text is embedded with ([CLS] and [SEP] included, after truncation)."""
        encoded = self._tokenizer(
            texts, add_special_tokens=True, truncation=True, max_length=self.max_tokens
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def encode(
        self, items: list[str] | list[str | list[int]], dimensions: int | None = None
    ) -> tuple[np.ndarray, int]:
        """Unit-length float32 vectors of texts or token arrays (ids of this model's own
        vocabulary, embedded as they are), truncated to ``dimensions`` and re-normalised,
        and the number of tokens used."""
        texts = [(i, item) for i, item in enumerate(items) if isinstance(item, str)]
        arrays = [(i, item) for i, item in enumerate(items) if not isinstance(item, str)]
        vectors = np.zeros((len(items), self.dimensions), dtype=np.float32)
        tokens = 0
        if texts:
            strings = [text for _, text in texts]
            vectors[[i for i, _ in texts]] = self._encode_texts(strings)
            tokens += sum(self.token_counts(strings))
        if arrays:
            features = self._id_features([ids for _, ids in arrays])
            vectors[[i for i, _ in arrays]] = self._encode_features(features)
            tokens += int(features["attention_mask"].sum())
        if dimensions is not None and dimensions < vectors.shape[1]:
            vectors = vectors[:, :dimensions]
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, np.float32(1e-12))
        return np.ascontiguousarray(vectors, dtype=np.float32), tokens

    def _id_features(self, arrays: list[list[int]]) -> dict[str, np.ndarray]:
        """[CLS] ids [SEP], truncated to the model's length and padded, as the tokenizer
        would have made them from text."""
        tokenizer = self._tokenizer
        rows = [
            [tokenizer.cls_token_id, *ids[: self.max_tokens - 2], tokenizer.sep_token_id]
            for ids in arrays
        ]
        width = max(len(row) for row in rows)
        input_ids = np.full((len(rows), width), tokenizer.pad_token_id or 0, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for index, row in enumerate(rows):
            input_ids[index, : len(row)] = row
            mask[index, : len(row)] = 1
        return {
            "input_ids": input_ids,
            "attention_mask": mask,
            "token_type_ids": np.zeros_like(input_ids),
        }

    def _encode_features(self, features: dict[str, np.ndarray]) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.encode_features(features)
        torch = self._torch
        accepted = set(self._model.tokenize(["x"]).keys())
        batch = {k: torch.from_numpy(v) for k, v in features.items() if k in accepted}
        with torch.inference_mode():
            pooled = self._model.forward(batch)["sentence_embedding"]
            pooled = torch.nn.functional.normalize(pooled, dim=1)
        return np.asarray(pooled.numpy(), dtype=np.float32)

    def _encode_texts(self, texts: list[str]) -> np.ndarray:
        small = len(texts) <= SMALL_BATCH
        if small and self._onnx is not None:
            vectors = self._onnx.encode(texts)
        else:
            threads = 1 if small else self._all_threads
            if threads != self._threads:  # only ever called on the one embedding thread
                self._torch.set_num_threads(threads)
                self._threads = threads
            vectors = self._model.encode(
                texts,
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            ).astype(np.float32, copy=False)
        return vectors

    async def embed(
        self, texts: list[str] | list[str | list[int]], dimensions: int | None = None
    ) -> tuple[np.ndarray, int]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.encode, texts, dimensions)

    async def count(self, texts: list[str]) -> int:
        loop = asyncio.get_running_loop()
        counts = await loop.run_in_executor(self._executor, self.token_counts, texts)
        return sum(counts)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

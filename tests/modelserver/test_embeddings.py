"""``/v1/embeddings`` against the real embedding model."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from tests.modelserver.conftest import EMBEDDING_MODEL, RunningModelServer


def _vectors(server: RunningModelServer, texts: list[str], **extra: Any) -> np.ndarray:
    response = server.client().embeddings.create(
        model=EMBEDDING_MODEL, input=texts, encoding_format="float", **extra
    )
    assert [d.index for d in response.data] == list(range(len(texts)))
    return np.array([d.embedding for d in response.data])


def test_unit_vectors_and_similarity(modelserver: RunningModelServer) -> None:
    texts = [
        "A cat sits on the mat.",
        "A kitten is sitting on a rug.",
        "Quarterly tax filings are due in April.",
    ]
    vectors = _vectors(modelserver, texts)
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.2


def test_shape_usage_and_base64(modelserver: RunningModelServer) -> None:
    body = {"model": EMBEDDING_MODEL, "input": ["hello world", "good morning"]}
    floats = modelserver.post("/v1/embeddings", body).json()
    assert floats["object"] == "list" and floats["model"] == EMBEDDING_MODEL
    assert floats["data"][0]["object"] == "embedding"
    counts = [
        modelserver.post("/tokenize", {"model": EMBEDDING_MODEL, "text": t}).json()["count"]
        for t in body["input"]
    ]
    assert floats["usage"] == {"prompt_tokens": sum(counts), "total_tokens": sum(counts)}
    packed = modelserver.post("/v1/embeddings", {**body, "encoding_format": "base64"}).json()
    for as_float, as_b64 in zip(floats["data"], packed["data"], strict=True):
        decoded = np.frombuffer(base64.b64decode(as_b64["embedding"]), dtype="<f4")
        assert np.array_equal(decoded, np.array(as_float["embedding"], dtype=np.float32))


def test_a_short_request_is_answered_by_onnx_runtime_with_the_batch_vectors(
    modelserver: RunningModelServer,
) -> None:
    assert modelserver.health()["embeddings"]["short_texts"] == "onnxruntime"
    texts = ["Tên con mèo của tôi là Mướp.", "My cat is called Tabby.", "a", "b", "c"]
    batch = _vectors(modelserver, texts)  # five texts: PyTorch
    for index in range(2):
        alone = _vectors(modelserver, [texts[index]])[0]  # one text: ONNX Runtime
        assert np.allclose(alone, batch[index], atol=1e-4)


def test_dimensions_truncate_and_renormalise(modelserver: RunningModelServer) -> None:
    full = _vectors(modelserver, ["hello world"])[0]
    short = _vectors(modelserver, ["hello world"], dimensions=128)[0]
    assert short.shape == (128,)
    assert np.isclose(np.linalg.norm(short), 1.0, atol=1e-5)
    assert np.allclose(short, full[:128] / np.linalg.norm(full[:128]), atol=1e-5)
    too_many = modelserver.post(
        "/v1/embeddings", {"model": EMBEDDING_MODEL, "input": "x", "dimensions": 385}
    )
    assert too_many.status_code == 400
    assert too_many.json()["error"]["param"] == "dimensions"


def test_token_arrays_are_embedded_as_given(modelserver: RunningModelServer) -> None:
    # "hello world" in the model's own WordPiece ids, then as text.
    ids = modelserver.post(
        "/v1/embeddings", {"model": EMBEDDING_MODEL, "input": [[7592, 2088], [7592]]}
    ).json()
    text = _vectors(modelserver, ["hello world"])[0]
    assert np.allclose(ids["data"][0]["embedding"], text, atol=1e-5)
    assert ids["usage"]["prompt_tokens"] == 4 + 3  # [CLS] … [SEP] around each
    # Ids no text decodes back to (unused vocabulary entries) count as they are.
    raw = modelserver.post("/v1/embeddings", {"model": EMBEDDING_MODEL, "input": [1, 2, 3]})
    assert raw.json()["usage"]["prompt_tokens"] == 3 + 2
    bad = modelserver.post("/v1/embeddings", {"model": EMBEDDING_MODEL, "input": [10**6]})
    assert bad.status_code == 400 and "token" in bad.json()["error"]["message"]


@pytest.mark.parametrize("value", ["", [], [""]])
def test_empty_input_is_400(modelserver: RunningModelServer, value: object) -> None:
    response = modelserver.post("/v1/embeddings", {"model": EMBEDDING_MODEL, "input": value})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_embedding_model_is_404(modelserver: RunningModelServer) -> None:
    response = modelserver.post("/v1/embeddings", {"model": "nope", "input": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"

"""``POST /v1/embeddings``: strings or token arrays → unit vectors, float or base64."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from cong.modelserver.embedding_model import EmbeddingModel
from cong.modelserver.responses import json_response
from cong.modelserver.runtime import ModelRuntime
from cong.protocol.completions import EmbeddingRequest
from cong.protocol.errors import invalid_request
from cong.protocol.validation import parse_json_object, validate


def input_items(value: Any, model: EmbeddingModel) -> list[str | list[int]]:
    """The input as texts and token arrays. Token arrays are ids of the embedding model's
    own tokenizer (WordPiece), embedded as they are; ids outside its vocabulary are a
    400."""
    if isinstance(value, str):
        return [value]
    if value and all(isinstance(item, int) for item in value):
        return [_checked(value, model, "input")]
    items: list[str | list[int]] = []
    for index, item in enumerate(value):
        items.append(item if isinstance(item, str) else _checked(item, model, f"input[{index}]"))
    return items


def _checked(tokens: list[int], model: EmbeddingModel, where: str) -> list[int]:
    bad = [t for t in tokens if not 0 <= t < model.vocab_size]
    if bad:
        raise invalid_request(
            f"Invalid token id {bad[0]} in '{where}': token arrays are read with the "
            f"`{model.id}` tokenizer, whose ids are 0 to {model.vocab_size - 1}. Send the "
            "text as a string instead.",
            param="input",
        )
    return tokens


async def embeddings(request: Request) -> Response:
    runtime: ModelRuntime = request.app.state.runtime
    body = validate(EmbeddingRequest, parse_json_object(await request.body()))
    model = runtime.embedding_model(body.model)
    if body.dimensions is not None and body.dimensions > model.dimensions:
        raise invalid_request(
            f"Invalid value for 'dimensions': the model `{body.model}` produces "
            f"{model.dimensions}-dimensional embeddings; ask for {model.dimensions} or fewer.",
            param="dimensions",
        )
    vectors, tokens = await model.embed(input_items(body.input, model), body.dimensions)
    as_base64 = body.encoding_format == "base64"
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(vector, as_base64)}
        for i, vector in enumerate(vectors)
    ]
    return json_response(
        {
            "object": "list",
            "data": data,
            "model": body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _encode(vector: np.ndarray, as_base64: bool) -> Any:
    if as_base64:  # little-endian float32, as OpenAI sends it
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return vector

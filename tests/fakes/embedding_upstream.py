"""A fake OpenAI-compatible embeddings upstream (``POST /v1/embeddings``, the real wire
format) whose vectors mean something: each word of the input (lower case, accents kept)
is hashed into one of 256 dimensions, so texts sharing words are close and texts sharing
none are orthogonal. Every input it embedded is recorded."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DIMENSIONS = 256
WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class EmbeddingRecorder:
    inputs: list[str] = field(default_factory=list)


def bag_of_words(text: str) -> list[float]:
    vector = [0.0] * DIMENSIONS
    for word in WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
        vector[int.from_bytes(digest, "little") % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def create_fake_embeddings(recorder: EmbeddingRecorder) -> Starlette:
    async def embeddings(request: Request) -> Response:
        body = orjson.loads(await request.body())
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        recorder.inputs.extend(inputs)
        data = [
            {"object": "embedding", "index": i, "embedding": bag_of_words(text)}
            for i, text in enumerate(inputs)
        ]
        tokens = sum(len(WORD.findall(t)) for t in inputs)
        answer = {
            "object": "list",
            "data": data,
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return Response(orjson.dumps(answer), media_type="application/json")

    return Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])

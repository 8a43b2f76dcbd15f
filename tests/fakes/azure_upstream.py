"""A fake Azure OpenAI resource: ``/openai/deployments/{deployment}/…?api-version=…``
with the ``api-key`` header (:data:`API_KEY`), OpenAI shapes plus Azure's content-filter
annotations, and SSE that opens with a choice-less ``prompt_filter_results`` chunk;
images answer one tiny base64 PNG.

Behaviour by deployment: ``dep-429`` / ``dep-500`` / ``dep-filtered`` (400
``content_filter``) fail, ``dep-echo`` answers with the request it got, ``dep-nousage``
streams without a usage chunk (as old api-versions do); unknown api-versions and
``dep-missing`` answer 404 as Azure does; anything else says "Hello from Azure"."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

API_KEY = "azure-test-key-0123456789"
API_VERSIONS = {"2024-10-21", "2025-01-01-preview"}
JSON = dict[str, Any]
FILTERS = {
    name: {"filtered": False, "severity": "safe"}
    for name in ("hate", "self_harm", "sexual", "violence")
}


@dataclass
class AzureRecorder:
    requests: list[JSON] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    body = {"error": {"code": code, "message": message, "param": None, "type": None, **extra}}
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def _usage() -> JSON:
    return {
        "prompt_tokens": 11,
        "completion_tokens": 3,
        "total_tokens": 14,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _chunk(kind: str, choice: JSON | None) -> JSON:
    return {
        "id": "chatcmpl-azure1",
        "object": kind,
        "created": int(time.time()),
        "model": "gpt-4o-2024-08-06",
        "system_fingerprint": "fp_azure",
        "choices": [choice] if choice else [],
    }


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def create_fake_azure(recorder: AzureRecorder) -> Starlette:
    async def deployment(request: Request) -> Response:
        name, operation = request.path_params["deployment"], request.path_params["operation"]
        body = orjson.loads(await request.body())
        recorder.requests.append(body)
        recorder.paths.append(request.scope["raw_path"].decode() + "?" + request.url.query)
        recorder.headers.append(dict(request.headers))
        if request.headers.get("api-key") != API_KEY:
            return _error(
                401, "401", "Access denied due to invalid subscription key or wrong API endpoint."
            )
        if request.query_params.get("api-version") not in API_VERSIONS:
            return _error(404, "404", "Resource not found")
        if name == "dep-missing":
            return _error(
                404, "DeploymentNotFound", "The API deployment for this resource does not exist."
            )
        if name == "dep-429":
            return _error(
                429,
                "429",
                "Requests to the ChatCompletions_Create Operation have exceeded the rate limit.",
                {"retry-after": "7"},
            )
        if name == "dep-500":
            return _error(500, "InternalServerError", "The server had an error.")
        if name == "dep-filtered":
            return _error(
                400,
                "content_filter",
                "The response was filtered due to the prompt "
                "triggering Azure OpenAI's content management policy.",
                innererror={"code": "ResponsibleAIPolicyViolation"},
            )
        if operation == "images/generations":
            image = {"b64_json": "iVBORw0KGgo=", "revised_prompt": body.get("prompt")}
            return Response(
                orjson.dumps({"created": int(time.time()), "data": [image]}),
                media_type="application/json",
            )
        if operation == "embeddings":
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [
                {"object": "embedding", "index": i, "embedding": [0.25, 0.5, 0.75]}
                for i in range(len(inputs))
            ]
            return Response(
                orjson.dumps(
                    {
                        "object": "list",
                        "data": data,
                        "model": "text-embedding-3-small",
                        "usage": {"prompt_tokens": 3, "total_tokens": 3},
                    }
                ),
                media_type="application/json",
            )
        content = orjson.dumps(body).decode() if name == "dep-echo" else "Hello from Azure"
        chat = operation == "chat/completions"
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            usage = usage and name != "dep-nousage"
            return StreamingResponse(_stream(chat, content, usage), media_type="text/event-stream")
        if chat:
            choice = {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "content_filter_results": FILTERS,
            }
            answer = _chunk("chat.completion", choice)
        else:
            choice = {"index": 0, "text": content, "finish_reason": "stop", "logprobs": None}
            answer = _chunk("text_completion", choice)
        answer["usage"] = _usage()
        answer["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": FILTERS}]
        return Response(orjson.dumps(answer), media_type="application/json")

    async def _stream(chat: bool, content: str, usage: bool) -> Any:
        kind = "chat.completion.chunk" if chat else "text_completion"
        yield _sse(
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": FILTERS}],
            }
        )
        pieces = ["Hello", " from", " Azure"] if content == "Hello from Azure" else [content]
        for i, piece in enumerate(pieces):
            if chat:
                delta = {"content": piece, **({"role": "assistant"} if i == 0 else {})}
                choice = {
                    "index": 0,
                    "delta": delta,
                    "finish_reason": None,
                    "logprobs": None,
                    "content_filter_results": FILTERS,
                }
            else:
                choice = {"index": 0, "text": piece, "finish_reason": None, "logprobs": None}
            yield _sse(_chunk(kind, choice))
        final = (
            {"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}
            if chat
            else {"index": 0, "text": "", "finish_reason": "stop", "logprobs": None}
        )
        yield _sse(_chunk(kind, final))
        if usage:
            yield _sse({**_chunk(kind, None), "usage": _usage()})
        yield b"data: [DONE]\n\n"

    async def models(request: Request) -> Response:
        if request.headers.get("api-key") != API_KEY:
            return _error(401, "401", "Access denied.")
        return Response(orjson.dumps({"object": "list", "data": []}), media_type="application/json")

    return Starlette(
        routes=[
            Route(
                "/openai/deployments/{deployment}/{operation:path}", deployment, methods=["POST"]
            ),
            Route("/openai/models", models, methods=["GET"]),
        ]
    )

"""A fake Gemini API (``/v1beta``) speaking the real wire format: ``generateContent``
JSON, ``streamGenerateContent?alt=sse`` (``data:`` lines carrying
``GenerateContentResponse`` objects), ``batchEmbedContents`` and Google's error envelope.
The ``x-goog-api-key`` header must hold :data:`API_KEY` (else 400 ``API_KEY_INVALID``,
as Google answers).

Behaviour by model name: ``gemini-tool`` calls ``get_weather`` (with a thought signature),
``gemini-thinking`` sends thought parts, ``gemini-echo`` answers with the request it got,
``gemini-blocked`` blocks the prompt (``promptFeedback.blockReason``), ``gemini-unsafe``
stops a candidate with ``SAFETY``, ``gemini-two`` answers with two candidates,
``gemini-429`` / ``gemini-500`` / ``gemini-503`` / ``gemini-missing`` fail,
``gemini-midstream-error`` streams one chunk then an error; anything else says
"Hello from Gemini" (three stream events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

API_KEY = "AIza-test"
TEXT = ["Hello", " from", " Gemini"]
JSON = dict[str, Any]


@dataclass
class GeminiRecorder:
    requests: list[JSON] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def _error(
    status: int,
    state: str,
    message: str,
    details: list[JSON] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {
        "error": {
            "code": status,
            "message": message,
            "status": state,
            **({"details": details} if details else {}),
        }
    }
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def _usage(prompt: int, candidates: int, thoughts: int = 0) -> JSON:
    usage = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates + thoughts,
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return usage


def _response(parts: list[JSON], finish: str | None, usage: JSON | None, index: int = 0) -> JSON:
    candidate: JSON = {"content": {"role": "model", "parts": parts}, "index": index}
    if finish:
        candidate["finishReason"] = finish
    answer: JSON = {
        "candidates": [candidate],
        "modelVersion": "gemini-fake-001",
        "responseId": "fakeResp123",
    }
    if usage:
        answer["usageMetadata"] = usage
    return answer


def _events(model: str, request: JSON) -> list[JSON]:
    """The answer as a list of stream events (the last one finishing)."""
    if model == "gemini-blocked":
        return [
            {
                "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
                "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5},
            }
        ]
    if model == "gemini-tool":
        call = {
            "functionCall": {"name": "get_weather", "args": {"city": "Hanoi"}},
            "thoughtSignature": "c2lnLTE=",
        }
        return [_response([call], "STOP", _usage(20, 7))]
    if model == "gemini-unsafe":
        return [
            _response([{"text": "Well"}], None, _usage(6, 1)),
            {
                "candidates": [
                    {
                        "finishReason": "SAFETY",
                        "index": 0,
                        "safetyRatings": [
                            {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}
                        ],
                    }
                ],
                "usageMetadata": _usage(6, 1),
            },
        ]
    if model == "gemini-thinking":
        return [
            _response([{"text": "Let me think.", "thought": True}], None, _usage(8, 0, 30)),
            _response([{"text": "42"}], "STOP", _usage(8, 1, 30)),
        ]
    if model == "gemini-two":
        first = _response([{"text": "one"}], "STOP", _usage(4, 2))
        first["candidates"].append(
            {
                "content": {"role": "model", "parts": [{"text": "two"}]},
                "finishReason": "MAX_TOKENS",
                "index": 1,
            }
        )
        return [first]
    text = [orjson.dumps(request).decode()] if model == "gemini-echo" else TEXT
    events = [_response([{"text": piece}], None, _usage(9, i + 1)) for i, piece in enumerate(text)]
    events[-1]["candidates"][0]["finishReason"] = "STOP"
    return events


def _merge(events: list[JSON]) -> JSON:
    """The non-streaming answer: the stream's events folded into one response."""
    merged: JSON = {k: v for k, v in events[-1].items() if k != "candidates"}
    candidates: dict[int, JSON] = {}
    for event in events:
        for candidate in event.get("candidates") or []:
            into = candidates.setdefault(candidate["index"], {"index": candidate["index"]})
            parts = (candidate.get("content") or {}).get("parts") or []
            if parts:
                content = into.setdefault("content", {"role": "model", "parts": []})
                content["parts"].extend(parts)
            into.update({k: v for k, v in candidate.items() if k not in ("content", "index")})
    if candidates:
        merged["candidates"] = [candidates[i] for i in sorted(candidates)]
    return merged


def _failure(model: str) -> Response | None:
    if model == "gemini-429":
        retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}
        return _error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", [retry])
    if model == "gemini-500":
        return _error(500, "INTERNAL", "An internal error has occurred.")
    if model == "gemini-503":
        return _error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
    if model == "gemini-missing":
        return _error(
            404,
            "NOT_FOUND",
            f"models/{model} is not found for API version v1beta, "
            "or is not supported for generateContent.",
        )
    return None


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\r\n\r\n"  # Google's line endings


def create_fake_gemini(recorder: GeminiRecorder) -> Starlette:
    async def model_call(request: Request) -> Response:
        target = request.path_params["target"]
        model, _, method = target.rpartition(":")
        body = orjson.loads(await request.body())
        recorder.requests.append(body)
        recorder.paths.append(request.scope["raw_path"].decode() + "?" + request.url.query)
        recorder.headers.append(dict(request.headers))
        if request.headers.get("x-goog-api-key") != API_KEY:
            reason = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
            return _error(
                400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [reason]
            )
        if method == "batchEmbedContents":
            return _embed(model, body)
        failure = _failure(model)
        if failure is not None:
            return failure
        events = _events(model, body)
        if method == "generateContent":
            return Response(orjson.dumps(_merge(events)), media_type="application/json")
        if method == "streamGenerateContent" and request.query_params.get("alt") == "sse":
            return StreamingResponse(_stream(model, events), media_type="text/event-stream")
        return _error(404, "NOT_FOUND", f"Unknown method {method}.")

    async def _stream(model: str, events: list[JSON]) -> Any:
        for i, event in enumerate(events):
            yield _sse(event)
            if model == "gemini-midstream-error" and i == 0:
                yield _sse(
                    {
                        "error": {
                            "code": 503,
                            "message": "The model is overloaded.",
                            "status": "UNAVAILABLE",
                        }
                    }
                )
                return

    def _embed(model: str, body: JSON) -> Response:
        data = []
        for item in body["requests"]:
            if item["model"] != f"models/{model}":
                return _error(400, "INVALID_ARGUMENT", "Model in the request does not match.")
            size = int(item.get("outputDimensionality") or 4)
            text = item["content"]["parts"][0]["text"]
            data.append({"values": [float(len(text))] + [0.5] * (size - 1)})
        return Response(orjson.dumps({"embeddings": data}), media_type="application/json")

    async def models(request: Request) -> Response:
        if request.headers.get("x-goog-api-key") != API_KEY:
            return _error(400, "INVALID_ARGUMENT", "API key not valid.")
        listed = [
            {"name": "models/gemini-2.5-flash", "supportedGenerationMethods": ["generateContent"]}
        ]
        return Response(orjson.dumps({"models": listed}), media_type="application/json")

    return Starlette(
        routes=[
            Route("/v1beta/models", models, methods=["GET"]),
            Route("/v1beta/models/{target:path}", model_call, methods=["POST"]),
        ]
    )

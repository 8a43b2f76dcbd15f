"""OpenAI chat payloads as the fake upstream sends them: a ``chat.completion`` object, or the
``chat.completion.chunk`` events of a stream, already framed as HTTP/1.1 chunks.

Shapes follow the OpenAI OpenAPI spec (``CreateChatCompletionResponse``,
``CreateChatCompletionStreamResponse``, ``CompletionUsage``), including ``usage: null`` on
every chunk when usage is requested, the final ``choices: []`` usage chunk and the
``obfuscation`` padding field. Stream events are built once per request shape and reused,
with only the id and timestamp substituted.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

CONTENT_PIECES = (
    "Hello", "!", " Here", " is", " a", " short", " answer", " from", " the", " fake",
    " upstream", ":", " it", " speaks", " the", " OpenAI", " wire", " format", " exactly", ".",
)  # fmt: skip
FINGERPRINT = "fp_b3f1c9d2e4"
ID_CHARS = 29  # len("chatcmpl-") + 29 matches real ids (38 characters)
ID_PLACEHOLDER = b"chatcmpl-" + b"X" * ID_CHARS
CREATED_PLACEHOLDER = b"1700000000"


def new_id() -> bytes:
    return b"chatcmpl-" + secrets.token_urlsafe(22)[:ID_CHARS].encode().ljust(ID_CHARS, b"0")


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class ChatRequest:
    """The few request fields the fake honours."""

    __slots__ = (
        "include_obfuscation",
        "include_usage",
        "model",
        "n_tokens",
        "prompt_tokens",
        "stream",
    )

    def __init__(self, body: bytes) -> None:
        data = orjson.loads(body) if body else {}
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        self.model = str(data.get("model") or "fake-model")
        self.stream = bool(data.get("stream"))
        limit = data.get("max_completion_tokens") or data.get("max_tokens")
        self.n_tokens = min(len(CONTENT_PIECES), int(limit)) if limit else len(CONTENT_PIECES)
        options = data.get("stream_options") or {}
        self.include_usage = bool(options.get("include_usage"))
        self.include_obfuscation = options.get("include_obfuscation", True) is not False
        self.prompt_tokens = max(1, len(body) // 4)

    @property
    def finish_reason(self) -> str:
        return "stop" if self.n_tokens == len(CONTENT_PIECES) else "length"


def completion_body(req: ChatRequest) -> bytes:
    return orjson.dumps(
        {
            "id": new_id().decode(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(CONTENT_PIECES[: req.n_tokens]),
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": req.finish_reason,
                }
            ],
            "usage": _usage(req.prompt_tokens, req.n_tokens),
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }
    )


_STREAM_TEMPLATES: dict[tuple[str, int, bool, bool], list[bytes]] = {}


def _chunk(req: ChatRequest, choices: list[dict[str, Any]], n: int) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": ID_PLACEHOLDER.decode(),
        "object": "chat.completion.chunk",
        "created": int(CREATED_PLACEHOLDER),
        "model": req.model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
    }
    if req.include_usage:
        chunk["usage"] = None
    if req.include_obfuscation:
        chunk["obfuscation"] = "abcdefghijklmnop"[: 4 + n % 12]
    return chunk


def _stream_template(req: ChatRequest) -> list[bytes]:
    """Every event up to the finish one, chunk-framed, with id/created placeholders."""
    key = (req.model, req.n_tokens, req.include_usage, req.include_obfuscation)
    cached = _STREAM_TEMPLATES.get(key)
    if cached is not None:
        return cached
    role = {"role": "assistant", "content": "", "refusal": None}
    deltas: list[dict[str, Any]] = [role, *({"content": p} for p in CONTENT_PIECES[: req.n_tokens])]
    events = [
        _chunk(req, [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}], i)
        for i, d in enumerate(deltas)
    ]
    finish = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": req.finish_reason}
    events.append(_chunk(req, [finish], len(deltas)))
    template = [frame(b"data: " + orjson.dumps(e) + b"\n\n") for e in events]
    _STREAM_TEMPLATES[key] = template
    return template


def frame(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def stream_events(req: ChatRequest) -> list[bytes]:
    """The whole SSE body as chunk-framed events (ending with the terminating 0-chunk).

    Ids and timestamps have fixed widths, so substituting them keeps the chunk sizes valid.
    """
    chat_id, created = new_id(), str(int(time.time())).encode()
    parts = [
        f.replace(ID_PLACEHOLDER, chat_id).replace(CREATED_PLACEHOLDER, created)
        for f in _stream_template(req)
    ]
    if req.include_usage:
        usage = _chunk(req, [], req.n_tokens + 1)
        usage["usage"] = _usage(req.prompt_tokens, req.n_tokens)
        payload = orjson.dumps(usage).replace(ID_PLACEHOLDER, chat_id)
        parts.append(frame(b"data: " + payload.replace(CREATED_PLACEHOLDER, created) + b"\n\n"))
    parts.append(frame(b"data: [DONE]\n\n"))
    parts.append(b"0\r\n\r\n")
    return parts

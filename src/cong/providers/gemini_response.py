"""Gemini -> OpenAI: ``GenerateContentResponse`` to ``chat.completion``, the
``streamGenerateContent?alt=sse`` events to ``chat.completion.chunk``, and Gemini's
error envelope to OpenAI's. Pure functions, no I/O (re-exported by ``gemini_translate``)."""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

import orjson

from cong.protocol.errors import (
    APIError,
    upstream_credentials_rejected,
    upstream_error,
    upstream_timeout,
)
from cong.providers.upstream_errors import scrub

JSON = dict[str, Any]
SIGNATURE_SEP = "__thought__"
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    **dict.fromkeys(
        ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"),
        "content_filter",
    ),
}
_GOOGLE_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{10,}")


# --- responses ------------------------------------------------------------------------


def from_gemini_response(resp: JSON, model: str) -> JSON:
    """A ``GenerateContentResponse`` -> an OpenAI ``chat.completion``."""
    _raise_if_blocked(resp)
    candidates = resp.get("candidates") or []
    if not candidates:
        raise upstream_error("The upstream answered without any candidate.")
    choices = []
    for position, candidate in enumerate(candidates):
        text, thoughts, calls = _split_parts(candidate)
        finish = finish_reason(candidate.get("finishReason"), bool(calls))
        content = text if text or not (calls or finish == "content_filter") else None
        message: JSON = {"role": "assistant", "content": content, "refusal": None}
        if thoughts:
            message["reasoning_content"] = thoughts
        if calls:
            message["tool_calls"] = calls
        choices.append(
            {
                "index": candidate.get("index", position),
                "message": message,
                "logprobs": None,
                "finish_reason": finish or "stop",
            }
        )
    return {
        "id": _completion_id(resp),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": sorted(choices, key=lambda c: c["index"]),
        "usage": usage_of(resp.get("usageMetadata")),
    }


def _raise_if_blocked(resp: JSON) -> None:
    reason = (resp.get("promptFeedback") or {}).get("blockReason")
    if reason and not resp.get("candidates"):
        raise APIError(
            400,
            f"The prompt was blocked by the upstream's safety filters (block reason: {reason}). "
            "Rephrase the request.",
            type="invalid_request_error",
            param="messages",
            code="content_filter",
        )


def _split_parts(candidate: JSON) -> tuple[str, str, list[JSON]]:
    text: list[str] = []
    thoughts: list[str] = []
    calls: list[JSON] = []
    for part in (candidate.get("content") or {}).get("parts") or []:
        if "functionCall" in part:
            calls.append(_tool_call(part))
        elif part.get("thought"):
            thoughts.append(str(part.get("text") or ""))
        elif "text" in part:
            text.append(str(part["text"]))
    return "".join(text), "".join(thoughts), calls


def _tool_call(part: JSON) -> JSON:
    call = part["functionCall"]
    call_id = f"call_{secrets.token_hex(12)}"
    if part.get("thoughtSignature"):
        call_id += SIGNATURE_SEP + str(part["thoughtSignature"])
    arguments = orjson.dumps(call.get("args") or {}).decode()
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": str(call.get("name") or ""), "arguments": arguments},
    }


def finish_reason(reason: str | None, called_tools: bool) -> str | None:
    if not reason or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    mapped = FINISH_REASONS.get(reason, "stop")
    return "tool_calls" if called_tools and mapped == "stop" else mapped


def _completion_id(resp: JSON) -> str:
    return f"chatcmpl-{resp.get('responseId') or secrets.token_hex(12)}"


def usage_of(meta: JSON | None) -> JSON:
    """``usageMetadata`` -> OpenAI usage (thinking tokens count as completion tokens)."""
    meta = meta or {}
    prompt = int(meta.get("promptTokenCount") or 0) + int(meta.get("toolUsePromptTokenCount") or 0)
    thoughts = int(meta.get("thoughtsTokenCount") or 0)
    completion = int(meta.get("candidatesTokenCount") or 0) + thoughts
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": int(meta.get("cachedContentTokenCount") or 0)},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }


class GeminiStream:
    """Turns ``streamGenerateContent?alt=sse`` events into ``chat.completion.chunk`` dicts;
    :meth:`finish` gives the closing usage chunk (``choices: []``)."""

    def __init__(self, model: str, label: str = "upstream") -> None:
        self.model = model
        self.label = label
        self.id = ""
        self.created = int(time.time())
        self.started: set[int] = set()
        self.calls: dict[int, int] = {}  # candidate index -> tool calls sent
        self.usage: JSON | None = None

    def feed(self, event: JSON) -> list[JSON]:
        if isinstance(event.get("error"), dict):
            code = event["error"].get("code")
            status = code if isinstance(code, int) else 500
            raise gemini_error(status, orjson.dumps(event), {}, self.label)
        if not self.id:
            _raise_if_blocked(event)
            self.id = _completion_id(event)
        if event.get("usageMetadata"):
            self.usage = event["usageMetadata"]
        chunks: list[JSON] = []
        for position, candidate in enumerate(event.get("candidates") or []):
            index = int(candidate.get("index", position))
            text, thoughts, calls = _split_parts(candidate)
            delta: JSON = {}
            if index not in self.started:
                self.started.add(index)
                delta = {"role": "assistant", "content": ""}
            if thoughts:
                delta["reasoning_content"] = thoughts
            if text:
                delta["content"] = text
            if calls:
                sent = self.calls.get(index, 0)
                delta["tool_calls"] = [{"index": sent + k, **c} for k, c in enumerate(calls)]
                self.calls[index] = sent + len(calls)
            if delta:
                chunks.append(self._chunk(index, delta, None))
            finish = finish_reason(candidate.get("finishReason"), index in self.calls)
            if finish:
                chunks.append(self._chunk(index, {}, finish))
        return chunks

    def finish(self) -> JSON:
        return {
            "id": self.id or _completion_id({}),
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage_of(self.usage),
        }

    def _chunk(self, index: int, delta: JSON, finish: str | None) -> JSON:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "usage": None,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }


# --- errors ---------------------------------------------------------------------------


def gemini_error(status: int, raw: bytes, headers: Mapping[str, str], label: str) -> APIError:
    """Gemini's ``{"error": {"code", "message", "status", "details"}}`` -> the OpenAI
    envelope. Credential failures never reach the client as theirs."""
    error = _error_body(raw)
    message = scrub(_GOOGLE_KEY.sub("[redacted]", str(error.get("message") or "")))
    text = message or f"The upstream {label} answered HTTP {status}."
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    reasons = {str(d.get("reason")) for d in details}
    if status in (401, 403) or any(r.startswith("API_KEY_") for r in reasons):
        return upstream_credentials_rejected(label)
    if status == 429:
        retry = headers.get("retry-after") or _retry_delay(details)
        return APIError(
            429,
            text,
            type="rate_limit_exceeded",
            code="rate_limit_exceeded",
            headers={"retry-after": retry} if retry else None,
        )
    if status == 404:
        return APIError(404, text, type="invalid_request_error", code="model_not_found")
    if 400 <= status < 500:
        code = str(error.get("status") or "").lower() or None
        return APIError(status, text, type="invalid_request_error", code=code)
    if status == 503:
        retry = headers.get("retry-after")
        return APIError(
            503,
            text,
            type="server_error",
            code="service_unavailable",
            headers={"retry-after": retry} if retry else None,
        )
    if status == 504:
        return upstream_timeout(f"The upstream {label} timed out: {text}")
    return upstream_error(f"The upstream {label} failed (HTTP {status}): {text}")


def _error_body(raw: bytes) -> JSON:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    if isinstance(data, list) and data:  # the JSON-array stream framing
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _retry_delay(details: list[JSON]) -> str | None:
    for detail in details:
        delay = str(detail.get("retryDelay") or "")
        if str(detail.get("@type", "")).endswith("RetryInfo") and delay.endswith("s"):
            try:
                return str(math.ceil(float(delay[:-1])))
            except ValueError:
                return None
    return None

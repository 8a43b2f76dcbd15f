"""Map upstream failures to the OpenAI envelope without leaking keys or internal URLs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from cong.protocol.errors import (
    ENDPOINT_MISSING,
    APIError,
    upstream_credentials_rejected,
    upstream_error,
)

_URL = re.compile(r"https?://\S+")
# Key formats of the providers we talk to: OpenAI/Anthropic/DeepSeek (sk-…), Groq (gsk_…),
# xAI (xai-…), Google (AIza…), Hugging Face (hf_…), and generic key-/api_ prefixes.
_KEYLIKE = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?:sk|key|api|gsk|xai|hf)[-_][A-Za-z0-9_\-]{8,}"
    r"|AIza[0-9A-Za-z_\-]{20,}"
    r")",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{8,}")


def scrub(message: str, secrets: tuple[str | None, ...] = ()) -> str:
    """Remove URLs, the channel's own keys (``secrets``) and key-like strings from an
    upstream message."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            message = message.replace(secret, "[redacted]")
    message = _BEARER.sub(r"\1 [redacted]", _URL.sub("[upstream]", message))
    return _KEYLIKE.sub("[redacted]", message)[:2000]


def _message_of(raw: bytes) -> tuple[str | None, str | None, str | None, str | None]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, None, None, None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return (
            _str(error.get("message")),
            _str(error.get("type")),
            _str(error.get("code")),
            _str(error.get("param")),
        )
    if isinstance(error, str):
        return error, None, None, None
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return data["detail"], None, None, None
    return None, None, None, None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def error_from_upstream(
    status: int, raw: bytes, headers: Mapping[str, str], label: str
) -> APIError:
    message, kind, code, param = _message_of(raw)
    text = scrub(message) if message else f"The upstream {label} answered HTTP {status}."
    if status in (401, 403):
        # The channel's credentials failed: not the client's key.
        return upstream_credentials_rejected(label)
    if status == 429:
        retry = headers.get("retry-after")
        return APIError(
            429,
            text,
            type="rate_limit_exceeded",
            code="rate_limit_exceeded",
            headers={"retry-after": retry} if retry else None,
        )
    if status in (404, 405):
        # The channel's endpoint itself is missing (wrong base path, no such deployment or
        # upstream model): the channel's fault, so another channel is tried.
        return APIError(
            502,
            f"The upstream {label} does not serve this endpoint (HTTP {status}): {text}",
            type="server_error",
            code=ENDPOINT_MISSING,
        )
    if 400 <= status < 500:
        return APIError(status, text, type=kind or "invalid_request_error", code=code, param=param)
    if status in (503, 504):
        retry = headers.get("retry-after")
        return APIError(
            status,
            text,
            type="server_error",
            code=code or "service_unavailable",
            headers={"retry-after": retry} if retry else None,
        )
    return upstream_error(f"The upstream {label} failed (HTTP {status}): {text}")


def error_from_stream_event(event: dict[str, Any], label: str) -> APIError:
    error = event.get("error")
    if isinstance(error, dict):
        message = scrub(str(error.get("message") or "stream error"))
        return APIError(
            502,
            f"The upstream {label} failed mid-stream: {message}",
            type=str(error.get("type") or "server_error"),
            code=_str(error.get("code")),
        )
    return upstream_error(f"The upstream {label} failed mid-stream.")

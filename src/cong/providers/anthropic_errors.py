"""Anthropic failures in the OpenAI envelope: HTTP errors
(``{"type": "error", "error": {"type", "message"}}``) and ``error`` stream events.

Messages are scrubbed of URLs and key-like strings; a rejected gateway key is reported as
the gateway's problem (502), never with the key. Overload (529) becomes a retryable 503.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from cong.protocol.errors import APIError, upstream_credentials_rejected, upstream_error
from cong.providers.upstream_errors import scrub


def _error_fields(raw: bytes) -> tuple[str | None, str | None]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None, None
    message, kind = error.get("message"), error.get("type")
    return (str(message) if message else None), (str(kind) if kind else None)


def anthropic_error(status: int, raw: bytes, headers: Mapping[str, str], label: str) -> APIError:
    """An Anthropic HTTP error (``{"type": "error", "error": {type, message}}``) in the
    OpenAI envelope. Credentials failures never reach the client as such."""
    message, kind = _error_fields(raw)
    return error_for(status, kind, message, headers.get("retry-after"), label)


def stream_error(event: Mapping[str, Any], label: str) -> APIError:
    """An ``error`` event received mid-stream (the HTTP status was already 200)."""
    error = event.get("error")
    error = error if isinstance(error, dict) else {}
    kind = str(error.get("type") or "api_error")
    status = {
        "invalid_request_error": 400,
        "authentication_error": 401,
        "permission_error": 403,
        "not_found_error": 404,
        "request_too_large": 413,
        "rate_limit_error": 429,
        "overloaded_error": 529,
    }.get(kind, 500)
    message = error.get("message")
    return error_for(status, kind, str(message) if message else None, None, label)


def error_for(
    status: int, kind: str | None, message: str | None, retry_after: str | None, label: str
) -> APIError:
    text = scrub(message) if message else f"The upstream {label} answered HTTP {status}."
    retry = {"retry-after": retry_after} if retry_after else None
    if status in (401, 403):
        return upstream_credentials_rejected(label)
    if status == 429:
        return APIError(
            429, text, type="rate_limit_exceeded", code="rate_limit_exceeded", headers=retry
        )
    if status == 529 or kind == "overloaded_error" or status == 503:
        return APIError(
            503,
            f"The upstream {label} is overloaded; try again shortly.",
            type="server_error",
            code="service_unavailable",
            headers=retry or {"retry-after": "1"},
        )
    if status == 404:
        return APIError(404, text, type="invalid_request_error", code="not_found")
    if status == 413:
        return APIError(413, text, type="invalid_request_error", code="request_too_large")
    if status == 402:
        return upstream_error(f"The upstream {label} refused the request for billing reasons.")
    if 400 <= status < 500:
        return APIError(status, text, type="invalid_request_error", code=None)
    if status == 504:
        return APIError(
            504, f"The upstream {label} timed out.", type="server_error", code="upstream_timeout"
        )
    return upstream_error(f"The upstream {label} failed (HTTP {status}): {text}")

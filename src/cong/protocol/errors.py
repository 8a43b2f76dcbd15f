"""OpenAI error envelope: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

from typing import Any

import orjson


class APIError(Exception):
    """An error rendered to clients in the OpenAI envelope with its HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def json(self) -> bytes:
        return orjson.dumps(self.body())


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> APIError:
    return APIError(status, message, type="invalid_request_error", param=param, code=code)


def invalid_api_key(message: str = "Incorrect API key provided.") -> APIError:
    return APIError(401, message, type="invalid_request_error", code="invalid_api_key")


def missing_api_key() -> APIError:
    return APIError(
        401,
        "You didn't provide an API key. You need to provide your API key in an "
        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        type="invalid_request_error",
        code="invalid_api_key",
    )


def permission_denied(message: str, *, code: str = "model_not_allowed") -> APIError:
    return APIError(403, message, type="permission_error", code=code)


def model_not_found(model: str) -> APIError:
    return APIError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        type="invalid_request_error",
        param="model",
        code="model_not_found",
    )


def not_found(message: str) -> APIError:
    return APIError(404, message, type="invalid_request_error", code="not_found")


def body_too_large(limit: int) -> APIError:
    return APIError(
        413,
        f"Request body too large: the limit is {limit} bytes.",
        type="invalid_request_error",
        code="request_too_large",
    )


def upstream_unavailable(message: str, *, retry_after: int | None = None) -> APIError:
    headers = {"retry-after": str(retry_after)} if retry_after else None
    return APIError(503, message, type="server_error", code="service_unavailable", headers=headers)


def upstream_error(message: str, *, status: int = 502) -> APIError:
    return APIError(status, message, type="server_error", code="upstream_error")


def upstream_timeout(message: str) -> APIError:
    return APIError(504, message, type="server_error", code="upstream_timeout")


def internal_error() -> APIError:
    return APIError(
        500, "The server had an error while processing your request.", type="server_error"
    )


def method_not_allowed() -> APIError:
    return APIError(405, "Method not allowed.", type="invalid_request_error")


def route_not_found(path: str) -> APIError:
    return APIError(
        404, f"Unknown request URL: {path}.", type="invalid_request_error", code="unknown_url"
    )


CREDENTIALS_REJECTED = "upstream_auth_failed"
ENDPOINT_MISSING = "upstream_endpoint_missing"


def upstream_credentials_rejected(label: str) -> APIError:
    """The upstream refused the gateway's own credentials: not the client's fault."""
    return APIError(
        502,
        f"The upstream {label} rejected the gateway's credentials.",
        type="server_error",
        code=CREDENTIALS_REJECTED,
    )

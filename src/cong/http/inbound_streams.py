"""Errors of the Anthropic Messages edge in Anthropic's envelope, including a stream's
failure before its first event (which is still an HTTP error with its status)."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from cong.protocol.errors import APIError
from cong.protocol.stream import Stream
from cong.providers.anthropic_inbound import anthropic_error_body


class AnthropicAPIError(APIError):
    """An error rendered in Anthropic's envelope (``{"type": "error", "error": …}``)."""

    @classmethod
    def of(cls, error: APIError) -> AnthropicAPIError:
        if isinstance(error, AnthropicAPIError):
            return error
        return cls(
            error.status,
            error.message,
            type=error.type,
            code=error.code,
            param=error.param,
            headers=error.headers,
        )

    def body(self) -> dict[str, Any]:
        return anthropic_error_body(self)[1]


async def anthropic_errors(stream: Stream) -> Stream:
    """The stream as it is, except that a failure before its first item is raised in
    Anthropic's envelope (later ones are rendered as ``error`` events)."""
    async with aclosing(stream):
        try:
            first = await anext(stream, None)
        except APIError as error:
            raise AnthropicAPIError.of(error) from None
        if first is None:
            return
        yield first
        async for item in stream:
            yield item

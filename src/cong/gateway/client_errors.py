"""Errors as the client should read them: naming the model the client asked for, never
the upstream's own model name (a mapped or aliased model) behind it."""

from __future__ import annotations

import re
from collections.abc import Iterable

from cong.channels.catalog import ModelRoute
from cong.protocol.errors import APIError


def naming_asked_model(error: APIError, asked: str, routes: Iterable[ModelRoute]) -> APIError:
    """``error`` with every upstream model name of ``routes`` replaced by ``asked``."""
    names = {name for r in routes for name in (r.upstream_model, r.id) if name and name != asked}
    for name in sorted(names, key=len, reverse=True):  # "gpt-4o-mini" before "gpt-4o"
        pattern = rf"(?<![\w.:/-]){re.escape(name)}(?![\w:/-]|\.\w)"
        error.message = re.sub(pattern, asked, error.message)
    return error


def end_reason_of(error: APIError) -> str:
    """The usage log's end reason for a request that failed with ``error``: the upstream
    refusing the request itself (400, the client's mistake it alone could see, such as
    more dimensions than its model has) or rate-limiting it is not an upstream failure."""
    if error.status == 504:
        return "timeout"
    if error.status == 400:
        return "invalid_request"
    if error.status == 429:
        return "rate_limited"
    return "upstream_error"

"""Structured log lines for routing events (retries, failovers, circuit changes, upstream
errors), each tagged with the id of the request it happened in.

The request id is a context variable set by the HTTP edge for each request; it follows
the request's task into the router without being passed through every call."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

REQUEST_ID: ContextVar[str | None] = ContextVar("cong_request_id", default=None)

log = logging.getLogger("cong.routing")


def routing_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """One log line ``event=<event> request_id=<id> key=value …``; the same fields are on
    the record as the dict ``record.cong`` for structured handlers."""
    if not log.isEnabledFor(level):
        return
    data = {"event": event, "request_id": REQUEST_ID.get(), **fields}
    text = " ".join(f"{k}={_value(v)}" for k, v in data.items() if v is not None)
    log.log(level, text, extra={"cong": data})


def _value(value: Any) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
    return text

"""Schemathesis hooks for the management-API fuzz run (``SCHEMATHESIS_HOOKS``).

The fuzzer may do anything an API client may, but must not lock itself out halfway: a
revoked calling key or a deleted calling user would leave the rest of the run testing
only 401s. Path parameters naming a protected key or user (``CONG_FUZZ_PROTECTED``,
comma-separated) are swapped for an id that exists nowhere."""

from __future__ import annotations

import os
from typing import Any

import schemathesis

PROTECTED = frozenset(filter(None, os.environ.get("CONG_FUZZ_PROTECTED", "").split(",")))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    parameters = case.path_parameters or {}
    for name, value in list(parameters.items()):
        if str(value) in PROTECTED:
            parameters[name] = "fuzz-protected-nowhere"

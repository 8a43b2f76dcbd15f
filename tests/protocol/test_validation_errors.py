"""Validation errors name the parameter as OpenAI does, down to a missing nested field."""

from __future__ import annotations

from typing import Any

import pytest

from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.errors import APIError
from cong.protocol.validation import validate

HI = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": HI}, "model"),
        (
            {"model": "m", "messages": HI, "response_format": {"type": "json_schema"}},
            "response_format.json_schema",
        ),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
            "messages.[0].tool_call_id",
        ),
        (
            {"model": "m", "messages": HI, "tools": [{"type": "function", "function": {}}]},
            "tools.[0].function.name",
        ),
    ],
)
def test_a_missing_field_is_named_with_its_path(body: dict[str, Any], param: str) -> None:
    with pytest.raises(APIError) as refused:
        validate(ChatCompletionRequest, body)
    assert refused.value.status == 400 and refused.value.param == param
    assert refused.value.message == f"Missing required parameter: '{param}'."

"""Validation errors name the parameter as OpenAI does, down to a missing nested field."""

from __future__ import annotations

from typing import Any

import pytest

from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.completions import CompletionRequest, EmbeddingRequest
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


def test_too_many_embedding_inputs_say_so() -> None:
    assert len(validate(EmbeddingRequest, {"model": "e", "input": ["a"] * 2048}).input) == 2048
    with pytest.raises(APIError) as refused:
        validate(EmbeddingRequest, {"model": "e", "input": ["a"] * 2049})
    assert refused.value.param == "input"
    assert "at most 2048 inputs per request, got 2049" in refused.value.message


@pytest.mark.parametrize(("best_of", "n", "ok"), [(3, 2, True), (2, 2, True), (1, 3, False)])
def test_best_of_is_at_least_n(best_of: int, n: int, ok: bool) -> None:
    body = {"model": "m", "prompt": "x", "best_of": best_of, "n": n}
    if ok:
        assert validate(CompletionRequest, body).best_of == best_of
        return
    with pytest.raises(APIError) as refused:
        validate(CompletionRequest, body)
    assert refused.value.param == "best_of"
    assert "greater than or equal to n" in refused.value.message

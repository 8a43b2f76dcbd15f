"""A table of bad requests, each with the status, type and param OpenAI clients expect."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.gateway import RunningGateway

OK_MESSAGES = [{"role": "user", "content": "hi"}]


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "fake-model", "messages": OK_MESSAGES, **fields}


INVALID = "invalid_request_error"
CASES: list[tuple[str, str, Any, int, str, str | None]] = [
    # (id, path, body (dict, or raw bytes), status, type, param)
    ("empty body", "/chat/completions", b"", 400, INVALID, None),
    ("not json", "/chat/completions", b"{model: x", 400, INVALID, None),
    ("json array", "/chat/completions", b"[1, 2]", 400, INVALID, None),
    ("missing model", "/chat/completions", {"messages": OK_MESSAGES}, 400, INVALID, "model"),
    ("missing messages", "/chat/completions", {"model": "fake-model"}, 400, INVALID, "messages"),
    ("empty messages", "/chat/completions", chat(messages=[]), 400, INVALID, "messages"),
    ("messages not a list", "/chat/completions", chat(messages="hi"), 400, INVALID, "messages"),
    (
        "bad role",
        "/chat/completions",
        chat(messages=[{"role": "bot", "content": "x"}]),
        400,
        INVALID,
        "messages.[0].role",
    ),
    (
        "content a number",
        "/chat/completions",
        chat(messages=[{"role": "user", "content": 5}]),
        400,
        INVALID,
        "messages.[0].content",
    ),
    (
        "tool message without id",
        "/chat/completions",
        chat(messages=[{"role": "tool", "content": "x"}]),
        400,
        INVALID,
        "messages.[0].tool_call_id",
    ),
    (
        "image part without url",
        "/chat/completions",
        chat(messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]),
        400,
        INVALID,
        "messages.[0].content.[0].image_url.url",
    ),
    (
        "temperature above 2",
        "/chat/completions",
        chat(temperature=2.5),
        400,
        INVALID,
        "temperature",
    ),
    (
        "temperature negative",
        "/chat/completions",
        chat(temperature=-0.1),
        400,
        INVALID,
        "temperature",
    ),
    (
        "temperature a string",
        "/chat/completions",
        chat(temperature="hot"),
        400,
        INVALID,
        "temperature",
    ),
    ("top_p above 1", "/chat/completions", chat(top_p=1.5), 400, INVALID, "top_p"),
    ("n zero", "/chat/completions", chat(n=0), 400, INVALID, "n"),
    (
        "presence_penalty 3",
        "/chat/completions",
        chat(presence_penalty=3),
        400,
        INVALID,
        "presence_penalty",
    ),
    (
        "frequency_penalty -3",
        "/chat/completions",
        chat(frequency_penalty=-3),
        400,
        INVALID,
        "frequency_penalty",
    ),
    (
        "five stop sequences",
        "/chat/completions",
        chat(stop=["a", "b", "c", "d", "e"]),
        400,
        INVALID,
        "stop",
    ),
    ("max_tokens zero", "/chat/completions", chat(max_tokens=0), 400, INVALID, "max_tokens"),
    (
        "max_completion_tokens negative",
        "/chat/completions",
        chat(max_completion_tokens=-5),
        400,
        INVALID,
        "max_completion_tokens",
    ),
    (
        "reasoning_effort unknown",
        "/chat/completions",
        chat(reasoning_effort="extreme"),
        400,
        INVALID,
        "reasoning_effort",
    ),
    (
        "response_format xml",
        "/chat/completions",
        chat(response_format={"type": "xml"}),
        400,
        INVALID,
        "response_format.type",
    ),
    (
        "json_schema without name",
        "/chat/completions",
        chat(response_format={"type": "json_schema", "json_schema": {"schema": {}}}),
        400,
        INVALID,
        "response_format.json_schema.name",
    ),
    (
        "tool of unknown type",
        "/chat/completions",
        chat(tools=[{"type": "robot", "function": {"name": "f"}}]),
        400,
        INVALID,
        "tools.[0].type",
    ),
    (
        "tool name with spaces",
        "/chat/completions",
        chat(tools=[{"type": "function", "function": {"name": "get weather"}}]),
        400,
        INVALID,
        "tools.[0].function.name",
    ),
    (
        "tool_choice without tools",
        "/chat/completions",
        chat(tool_choice="required"),
        400,
        INVALID,
        "tool_choice",
    ),
    (
        "tool_choice unknown word",
        "/chat/completions",
        chat(tools=[{"type": "function", "function": {"name": "f"}}], tool_choice="sometimes"),
        400,
        INVALID,
        "tool_choice",
    ),
    (
        "stream_options without stream",
        "/chat/completions",
        chat(stream_options={"include_usage": True}),
        400,
        INVALID,
        "stream_options",
    ),
    ("stream a string", "/chat/completions", chat(stream="yes"), 400, INVALID, "stream"),
    (
        "top_logprobs above 20",
        "/chat/completions",
        chat(logprobs=True, top_logprobs=30),
        400,
        INVALID,
        "top_logprobs",
    ),
    (
        "logit_bias out of range",
        "/chat/completions",
        chat(logit_bias={"50256": 200}),
        400,
        INVALID,
        "logit_bias.50256",
    ),
    ("seed a string", "/chat/completions", chat(seed="abc"), 400, INVALID, "seed"),
    (
        "image to a text-only model",
        "/chat/completions",
        {
            "model": "fake-echo",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                        },
                    ],
                }
            ],
        },
        400,
        INVALID,
        "messages",
    ),
    ("unknown model", "/chat/completions", chat(model="no-such-model"), 404, INVALID, "model"),
    (
        "embedding model for chat",
        "/chat/completions",
        chat(model="fake-embed"),
        404,
        INVALID,
        "model",
    ),
    (
        "embeddings empty string",
        "/embeddings",
        {"model": "fake-embed", "input": ""},
        400,
        INVALID,
        "input",
    ),
    (
        "embeddings empty list",
        "/embeddings",
        {"model": "fake-embed", "input": []},
        400,
        INVALID,
        "input",
    ),
    ("embeddings missing input", "/embeddings", {"model": "fake-embed"}, 400, INVALID, "input"),
    (
        "embeddings bad encoding",
        "/embeddings",
        {"model": "fake-embed", "input": "x", "encoding_format": "hex"},
        400,
        INVALID,
        "encoding_format",
    ),
    (
        "embeddings chat model",
        "/embeddings",
        {"model": "fake-model", "input": "x"},
        404,
        INVALID,
        "model",
    ),
    (
        "completions n zero",
        "/completions",
        {"model": "fake-model", "prompt": "x", "n": 0},
        400,
        INVALID,
        "n",
    ),
]


@pytest.mark.parametrize(
    ("case", "path", "body", "status", "kind", "param"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input(
    sqlite_gateway: RunningGateway,
    case: str,
    path: str,
    body: Any,
    status: int,
    kind: str,
    param: str | None,
) -> None:
    headers = {
        "authorization": f"Bearer {sqlite_gateway.admin_token}",
        "content-type": "application/json",
    }
    url = sqlite_gateway.base_url + path
    if isinstance(body, bytes):
        response = httpx.post(url, content=body, headers=headers)
    else:
        response = httpx.post(url, json=body, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == kind
    assert error["param"] == param
    assert error["message"] and len(error["message"]) < 600
    assert response.headers["x-request-id"].startswith("req_")

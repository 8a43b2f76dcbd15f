"""Our answers match the official OpenAI spec's schemas, whatever route served them."""

from __future__ import annotations

import httpx
import orjson

from tests.support.gateway import RunningGateway
from tests.support.openapi_spec import validate_schema


def _post(gw: RunningGateway, path: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(
        gw.base_url + path, json=body, headers={"authorization": f"Bearer {gw.admin_token}"}
    )


def _events(response: httpx.Response) -> list[bytes]:
    return [line[6:] for line in response.content.split(b"\n") if line.startswith(b"data: ")]


def test_chat_completion_matches_spec(sqlite_gateway: RunningGateway) -> None:
    response = _post(
        sqlite_gateway,
        "/chat/completions",
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 200
    validate_schema(response.json(), "CreateChatCompletionResponse")


def test_stream_chunks_match_spec(sqlite_gateway: RunningGateway) -> None:
    response = _post(
        sqlite_gateway,
        "/chat/completions",
        {
            "model": "fake-model",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response)
    assert events[-1] == b"[DONE]"
    for event in events[:-1]:
        validate_schema(orjson.loads(event), "CreateChatCompletionStreamResponse")


def test_embeddings_models_and_errors_match_spec(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    validate_schema(
        _post(gw, "/embeddings", {"model": "fake-embed", "input": "x"}).json(),
        "CreateEmbeddingResponse",
    )
    headers = {"authorization": f"Bearer {gw.admin_token}"}
    listing = httpx.get(gw.base_url + "/models", headers=headers).json()
    validate_schema(listing, "ListModelsResponse")
    validate_schema(httpx.get(gw.base_url + "/models/gpt-4o", headers=headers).json(), "Model")
    error = _post(gw, "/chat/completions", {"model": "nope", "messages": []}).json()
    validate_schema(error, "ErrorResponse")

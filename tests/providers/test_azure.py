"""Azure OpenAI: the provider against the fake Azure resource, then end to end through the
gateway with the official openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from cong.protocol.errors import CREDENTIALS_REJECTED, ENDPOINT_MISSING, APIError
from cong.providers.azure import DEFAULT_API_VERSION, AzureOpenAI
from cong.providers.base import UpstreamConfig
from cong.providers.registry import build_provider
from tests.fakes.azure_upstream import API_KEY, AzureRecorder, create_fake_azure
from tests.support.gateway import RunningGateway, fresh_database, start_gateway
from tests.support.openapi_spec import validate_schema
from tests.support.servers import ServerThread
from tests.support.streams import chunks as stream_chunks

HI: list[Any] = [{"role": "user", "content": "hi"}]
FAILING = ["dep-429", "dep-500", "dep-filtered"]


@pytest.fixture(scope="module")
def fake_azure() -> Iterator[tuple[str, AzureRecorder]]:
    recorder = AzureRecorder()
    with ServerThread(create_fake_azure(recorder)) as server:
        yield server.url, recorder


def provider(url: str, key: str = API_KEY, version: str | None = None) -> AzureOpenAI:
    config = UpstreamConfig(name="az", base_url=url, api_key=key, api_version=version, label="'az'")
    built = build_provider("azure", config)
    assert isinstance(built, AzureOpenAI)
    return built


async def test_chat_url_headers_and_body(fake_azure: tuple[str, AzureRecorder]) -> None:
    url, recorder = fake_azure
    azure = provider(url + "/openai/")  # a base ending in /openai is accepted too
    try:
        answer = await azure.chat({"model": "gpt4o prod", "messages": HI, "temperature": 0})
        assert await azure.probe()
    finally:
        await azure.close()
    validate_schema(answer, "CreateChatCompletionResponse")
    assert answer["choices"][0]["message"]["content"] == "Hello from Azure"
    assert recorder.paths[-1] == (
        f"/openai/deployments/gpt4o%20prod/chat/completions?api-version={DEFAULT_API_VERSION}"
    )
    headers = recorder.headers[-1]
    assert headers["api-key"] == API_KEY and "authorization" not in headers
    assert recorder.requests[-1] == {"messages": HI, "temperature": 0}


async def test_streams_drop_the_filter_preamble_and_relay_only_real_usage(
    fake_azure: tuple[str, AzureRecorder],
) -> None:
    url, recorder = fake_azure
    azure = provider(url, version="2025-01-01-preview")
    body: dict[str, Any] = {
        "model": "gpt4o",
        "messages": HI,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    try:
        chunks = [c async for c in stream_chunks(azure.stream_chat(body))]
        bare = [c async for c in stream_chunks(azure.stream_chat({**body, "model": "dep-nousage"}))]
        text = [
            c
            async for c in stream_chunks(
                azure.stream_completion(
                    {
                        "model": "gpt35",
                        "prompt": "x",
                        "stream": True,
                        "stream_options": {"include_usage": True},
                    }
                )
            )
        ]
    finally:
        await azure.close()
    assert "api-version=2025-01-01-preview" in recorder.paths[-1]
    for chunk in chunks + bare:
        validate_schema(chunk, "CreateChatCompletionStreamResponse")
    assert (
        "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        == "Hello from Azure"
    )
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 14
    # No usage from Azure: none is made up (a zero usage would bill 0); the gateway
    # estimates instead.
    assert bare and all(not c.get("usage") for c in bare)
    assert bare[-1]["choices"][0]["finish_reason"] == "stop"
    assert "".join(c["choices"][0]["text"] for c in text if c["choices"]) == "Hello from Azure"
    assert text[-1]["object"] == "text_completion" and text[-1]["usage"]["total_tokens"] == 14


async def test_completions_embeddings_and_errors(fake_azure: tuple[str, AzureRecorder]) -> None:
    url, recorder = fake_azure
    azure = provider(url)
    wrong = provider(url, key="not-the-key")
    old = provider(url, version="1999-01-01")
    try:
        completion = await azure.completion({"model": "gpt35", "prompt": "x"})
        vectors = await azure.embed({"model": "embed-small", "input": ["a", "b"]})
        assert recorder.paths[-1].startswith("/openai/deployments/embed-small/embeddings?")
        image = await azure.images({"model": "dall-e-3", "prompt": "a cat"})
        assert recorder.paths[-1].startswith("/openai/deployments/dall-e-3/images/generations?")
        assert recorder.requests[-1] == {"prompt": "a cat"}
        assert image["data"][0]["revised_prompt"] == "a cat"
        errors = {}
        for deployment in ("dep-429", "dep-500", "dep-filtered", "dep-missing"):
            with pytest.raises(APIError) as error:
                await azure.chat({"model": deployment, "messages": HI})
            errors[deployment] = error.value
        with pytest.raises(APIError) as denied:
            await wrong.chat({"model": "gpt4o", "messages": HI})
        with pytest.raises(APIError) as unknown_version:
            await old.chat({"model": "gpt4o", "messages": HI})
    finally:
        for p in (azure, wrong, old):
            await p.close()
    assert completion["choices"][0]["text"] == "Hello from Azure"
    validate_schema(vectors, "CreateEmbeddingResponse")
    assert errors["dep-429"].status == 429 and errors["dep-429"].headers["retry-after"] == "7"
    assert errors["dep-500"].status == 502
    assert (errors["dep-filtered"].status, errors["dep-filtered"].code) == (400, "content_filter")
    # A missing deployment or api-version is the channel's fault: 502, and routing fails over.
    assert (errors["dep-missing"].status, errors["dep-missing"].code) == (502, ENDPOINT_MISSING)
    assert (denied.value.status, denied.value.code) == (502, CREDENTIALS_REJECTED)
    assert (unknown_version.value.status, unknown_version.value.code) == (502, ENDPOINT_MISSING)


@pytest.fixture(scope="module")
def azure_gateway(
    tmp_path_factory: pytest.TempPathFactory, fake_azure: tuple[str, AzureRecorder]
) -> Iterator[tuple[RunningGateway, AzureRecorder]]:
    url, recorder = fake_azure
    tmp: Path = tmp_path_factory.mktemp("azgw")
    base = {"type": "azure", "base_url": url, "api_key": API_KEY, "api_version": "2024-10-21"}
    channels: list[dict[str, object]] = [
        {
            **base,
            "name": "az",
            "models": ["gpt-4o", "dep-echo"],
            "embedding_models": ["text-embedding-3-small"],
            "model_map": {"gpt-4o": "gpt4o-prod", "text-embedding-3-small": "embed-small"},
        }
    ]
    channels += [{**base, "name": dep, "models": [dep]} for dep in FAILING]
    running, server = start_gateway(
        fresh_database("sqlite", tmp, None),
        tmp / "data",
        upstreams=channels,
        model_server={"enabled": False},
        routing={"retries_per_channel": 0},
    )
    try:
        yield running, recorder
    finally:
        server.__exit__()


def test_gateway_end_to_end(azure_gateway: tuple[RunningGateway, AzureRecorder]) -> None:
    gw, recorder = azure_gateway
    sdk = openai.OpenAI(base_url=gw.base_url, api_key=gw.admin_token, max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(model="gpt-4o", messages=HI)
    answer = raw.http_response.json()
    validate_schema(answer, "CreateChatCompletionResponse")
    assert answer["model"] == "gpt-4o"
    assert (
        recorder.paths[-1] == "/openai/deployments/gpt4o-prod/chat/completions"
        "?api-version=2024-10-21"
    )
    assert "model" not in recorder.requests[-1]

    chunks = list(
        sdk.chat.completions.create(
            model="gpt-4o", messages=HI, stream=True, stream_options={"include_usage": True}
        )
    )
    for chunk in chunks:
        validate_schema(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
        assert chunk.model == "gpt-4o" and chunk.object == "chat.completion.chunk"
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from Azure"
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 14

    echoed = sdk.chat.completions.create(model="dep-echo", messages=HI, max_tokens=5)
    assert orjson.loads(echoed.choices[0].message.content or "") == {
        "messages": HI,
        "max_tokens": 5,
    }

    vectors = sdk.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=["a", "b"], encoding_format="float"
    )
    validate_schema(vectors.http_response.json(), "CreateEmbeddingResponse")
    assert recorder.paths[-1].startswith("/openai/deployments/embed-small/embeddings?")
    assert sdk.completions.create(model="gpt-4o", prompt="x").choices[0].text == "Hello from Azure"

    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="dep-429", messages=HI)
    with pytest.raises(openai.InternalServerError):
        sdk.chat.completions.create(model="dep-500", messages=HI)
    with pytest.raises(openai.BadRequestError) as filtered:
        sdk.chat.completions.create(model="dep-filtered", messages=HI)
    assert filtered.value.code == "content_filter"

"""The official openai SDK against the running gateway (fake upstream behind it)."""

from __future__ import annotations

import openai
import pytest

from tests.support.gateway import RunningGateway


def client(gw: RunningGateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=key or gw.admin_token, max_retries=0)


def test_chat_non_stream(gateway: RunningGateway) -> None:
    reply = client(gateway).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.model == "gpt-4o"
    assert reply.choices[0].message.content == "Hello from fake"
    assert reply.usage is not None and reply.usage.total_tokens == 12


def test_chat_stream_with_usage(gateway: RunningGateway) -> None:
    stream = client(gateway).chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from fake"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3


def test_stream_without_usage_option_hides_usage(sqlite_gateway: RunningGateway) -> None:
    chunks = list(
        client(sqlite_gateway).chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


async def test_async_client(sqlite_gateway: RunningGateway) -> None:
    aclient = openai.AsyncOpenAI(
        base_url=sqlite_gateway.base_url, api_key=sqlite_gateway.admin_token, max_retries=0
    )
    reply = await aclient.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "Hello from fake"
    stream = await aclient.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "Hello from fake"
    await aclient.close()


def test_embeddings_via_alias(sqlite_gateway: RunningGateway) -> None:
    result = client(sqlite_gateway).embeddings.create(
        model="text-embedding-3-small", input=["a", "b"]
    )
    assert result.model == "text-embedding-3-small"
    assert [d.index for d in result.data] == [0, 1]


def test_errors_map_to_sdk_exceptions(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.AuthenticationError):
        client(gw, "sk-wrong").chat.completions.create(model="fake-model", messages=messages)
    with pytest.raises(openai.NotFoundError) as missing:
        client(gw).chat.completions.create(model="nope", messages=messages)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client(gw).chat.completions.create(model="fake-model", messages=messages, temperature=5)
    assert bad.value.param == "temperature"
    limited = gw.create_key("limited-user", models=["fake-echo"])
    with pytest.raises(openai.NotFoundError) as hidden:  # not the key's model: as if missing
        client(gw, limited).chat.completions.create(model="fake-model", messages=messages)
    assert hidden.value.code == "model_not_found"
    with pytest.raises(openai.RateLimitError) as limited_error:
        client(gw).chat.completions.create(model="fake-429", messages=messages)
    assert limited_error.value.response.headers["retry-after"] == "7"
    with pytest.raises(openai.InternalServerError) as upstream:
        client(gw).chat.completions.create(model="fake-500", messages=messages)
    assert upstream.value.status_code == 502
    with pytest.raises(openai.APIStatusError) as too_large:
        client(gw).chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "x" * 40_000_000}]
        )
    assert too_large.value.status_code == 413

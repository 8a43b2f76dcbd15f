"""Chat completions against the real model, through the official openai SDK."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from openai import BadRequestError, NotFoundError

from tests.modelserver.conftest import CHAT_MODEL, CONTEXT_SIZE, TINY_MODEL, RunningModelServer

HELLO: Any = [{"role": "user", "content": "Say hello to the world."}]
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
WEATHER_QUESTION: Any = [{"role": "user", "content": "What is the weather in Paris?"}]
PROMPT = "Write a long story about a lighthouse keeper and the sea."


def test_health_and_models(modelserver: RunningModelServer) -> None:
    health = modelserver.health()
    assert health["status"] == "ok"
    assert health["models"] == [CHAT_MODEL, TINY_MODEL, "all-minilm-l6-v2"]
    models = modelserver.client().models.list()
    assert [m.id for m in models.data] == [CHAT_MODEL, TINY_MODEL, "all-minilm-l6-v2"]
    assert modelserver.client().models.retrieve(CHAT_MODEL).id == CHAT_MODEL


def test_each_slot_has_its_own_cache_and_keeps_its_prefix(
    modelserver: RunningModelServer,
) -> None:
    # Two slots of 2,048 tokens in the default 4,096 cells: a cache stream per slot.
    assert modelserver.health()["chat"]["kv_cache_layout"] == "per-sequence"
    body = {
        "model": CHAT_MODEL,
        "max_tokens": 4,
        "temperature": 0,
        "messages": [{"role": "user", "content": "Spell the word lighthouse backwards."}],
    }
    first = modelserver.post("/v1/chat/completions", body).json()
    again = modelserver.post("/v1/chat/completions", body).json()
    assert again["choices"][0]["message"] == first["choices"][0]["message"]
    prompt = again["usage"]["prompt_tokens"]
    assert again["usage"]["prompt_tokens_details"]["cached_tokens"] == prompt - 2


def test_a_prompt_another_slot_holds_is_copied_not_evaluated(
    modelserver: RunningModelServer,
) -> None:
    # A system prompt no cache holds yet; while a long answer is generated with it, a
    # question with the same system prompt (in the other slot) starts from a copy of
    # the first slot's cells: only its own question is evaluated.
    system = f"You answer for the harbour office {uuid.uuid4()}. " + "Be brief. " * 20
    story = [{"role": "system", "content": system}, {"role": "user", "content": PROMPT}]
    question = [{"role": "system", "content": system}, {"role": "user", "content": "Hi."}]
    with httpx.stream(
        "POST",
        modelserver.url + "/v1/chat/completions",
        json={"model": CHAT_MODEL, "messages": story, "max_tokens": 300, "stream": True},
        timeout=60,
    ) as running:
        for line in running.iter_lines():
            if '"content":"' in line and '"content":""' not in line:
                break  # generating: its slot holds the whole system prompt
        beside = modelserver.post(
            "/v1/chat/completions", {"model": CHAT_MODEL, "messages": question, "max_tokens": 2}
        ).json()
    cached = beside["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert 60 < cached < beside["usage"]["prompt_tokens"]


def test_non_stream_shape_and_exact_usage(modelserver: RunningModelServer) -> None:
    client = modelserver.client()
    response = client.chat.completions.create(
        model=CHAT_MODEL, messages=HELLO, max_tokens=5, seed=7
    )
    assert response.id.startswith("chatcmpl-")
    assert response.object == "chat.completion"
    assert response.model == CHAT_MODEL
    assert response.system_fingerprint and response.system_fingerprint.startswith("fp_")
    (choice,) = response.choices
    assert choice.index == 0 and choice.logprobs is None
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason == "length"
    usage = response.usage
    assert usage is not None
    assert usage.completion_tokens == 5
    assert usage.total_tokens == usage.prompt_tokens + 5
    assert usage.prompt_tokens_details is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 0
    counted = modelserver.post("/tokenize", {"model": CHAT_MODEL, "messages": HELLO})
    assert counted.json() == {"count": usage.prompt_tokens}


def test_stream_chunks_and_usage(modelserver: RunningModelServer) -> None:
    client = modelserver.client()
    stream = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=HELLO,
        max_tokens=8,
        seed=7,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    first, last = chunks[0], chunks[-1]
    assert first.object == "chat.completion.chunk"
    assert first.choices[0].delta.role == "assistant"
    assert first.choices[0].delta.content == ""
    assert all(c.id == first.id for c in chunks)
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == 8
    assert all(c.usage is None for c in chunks[:-1])
    finishing = chunks[-2]
    assert finishing.choices[0].finish_reason == "length"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-2])
    text = "".join(c.choices[0].delta.content or "" for c in chunks[:-1])
    # The same seed gives the same text, streamed or not.
    again = client.chat.completions.create(model=CHAT_MODEL, messages=HELLO, max_tokens=8, seed=7)
    assert again.choices[0].message.content == text
    assert again.usage is not None and again.usage.prompt_tokens == last.usage.prompt_tokens


def test_same_seed_same_text_and_seed_matters(modelserver: RunningModelServer) -> None:
    client = modelserver.client()

    def run(seed: int) -> str:
        response = client.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": "Tell me a story."}],
            max_tokens=20,
            seed=seed,
            temperature=1.0,
        )
        return response.choices[0].message.content or ""

    first = run(11)
    assert run(12) != first or run(13) != first
    assert run(11) == first


def test_stop_sequence_is_honoured(modelserver: RunningModelServer) -> None:
    client = modelserver.client()
    messages: Any = [{"role": "user", "content": "Write a sentence about cats."}]
    free = (
        client.chat.completions.create(
            model=CHAT_MODEL, messages=messages, max_tokens=30, temperature=0
        )
        .choices[0]
        .message.content
        or ""
    )
    assert len(free) > 20, free
    stop = free[12:16]  # a stop sequence the greedy answer is known to reach
    expected = free[: free.index(stop)]
    stopped = client.chat.completions.create(
        model=CHAT_MODEL, messages=messages, max_tokens=30, temperature=0, stop=[stop, "@@@"]
    )
    assert stopped.choices[0].message.content == expected
    assert stopped.choices[0].finish_reason == "stop"
    stream = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=messages,
        max_tokens=30,
        temperature=0,
        stop=stop,
        stream=True,
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_n_choices(modelserver: RunningModelServer) -> None:
    response = modelserver.client().chat.completions.create(
        model=CHAT_MODEL, messages=HELLO, max_tokens=6, n=2, seed=3
    )
    assert [c.index for c in response.choices] == [0, 1]
    assert all(c.message.content for c in response.choices)
    assert response.usage is not None and response.usage.completion_tokens == 12


def test_json_object_output_parses(modelserver: RunningModelServer) -> None:
    response = modelserver.client().chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Describe a cat as a JSON object."}],
        response_format={"type": "json_object"},
        max_tokens=300,
        seed=1,
    )
    choice = response.choices[0]
    assert choice.finish_reason == "stop", choice.message.content
    assert isinstance(json.loads(choice.message.content or ""), dict)


def test_json_schema_output_matches(modelserver: RunningModelServer) -> None:
    schema: Any = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    response = modelserver.client().chat.completions.create(
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": "Describe a person."}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": schema},
        },
        max_tokens=100,
        seed=1,
    )
    value = json.loads(response.choices[0].message.content or "")
    assert isinstance(value["name"], str) and isinstance(value["age"], int)


def test_tools_auto_never_errors(modelserver: RunningModelServer) -> None:
    response = modelserver.client().chat.completions.create(
        model=CHAT_MODEL,
        messages=WEATHER_QUESTION,
        tools=[WEATHER_TOOL],
        max_tokens=10,
        seed=1,
    )
    choice = response.choices[0]
    assert choice.finish_reason in ("stop", "length", "tool_calls")


@pytest.mark.parametrize(
    "tool_choice",
    [
        "required",
        {"type": "function", "function": {"name": "get_weather"}},
    ],
)
def test_tool_choice_forces_a_valid_call(modelserver: RunningModelServer, tool_choice: Any) -> None:
    response = modelserver.client().chat.completions.create(
        model=CHAT_MODEL,
        messages=WEATHER_QUESTION,
        tools=[WEATHER_TOOL],
        tool_choice=tool_choice,
        max_tokens=80,
        seed=1,
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert call.id.startswith("call_") and call.type == "function"
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


def test_streamed_forced_tool_call(modelserver: RunningModelServer) -> None:
    stream = modelserver.client().chat.completions.create(
        model=CHAT_MODEL,
        messages=WEATHER_QUESTION,
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_tokens=80,
        seed=1,
        stream=True,
    )
    chunks = list(stream)
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1 and calls[0].index == 0
    assert calls[0].function is not None and calls[0].function.name == "get_weather"
    assert "city" in json.loads(calls[0].function.arguments or "")
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert not any(c.choices[0].delta.content for c in chunks)


def test_tool_history_is_accepted(modelserver: RunningModelServer) -> None:
    messages: Any = [
        {"role": "developer", "content": "You are terse."},
        *WEATHER_QUESTION,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
        {"role": "user", "content": [{"type": "text", "text": "So?"}]},
    ]
    response = modelserver.client().chat.completions.create(
        model=CHAT_MODEL,
        messages=messages,
        tools=[WEATHER_TOOL],
        max_tokens=5,
        seed=1,
    )
    assert response.choices[0].finish_reason in ("stop", "length", "tool_calls")


def test_image_input_is_rejected(modelserver: RunningModelServer) -> None:
    with pytest.raises(BadRequestError) as caught:
        modelserver.client().chat.completions.create(
            model=CHAT_MODEL,
            max_tokens=5,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    ],
                }
            ],
        )
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "messages" and "text-only" in error["message"]
    assert error["type"] == "invalid_request_error"


def test_unknown_model_is_404(modelserver: RunningModelServer) -> None:
    with pytest.raises(NotFoundError) as caught:
        modelserver.client().chat.completions.create(model="gpt-9", messages=HELLO)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "model_not_found"


def test_context_length_exceeded(modelserver: RunningModelServer) -> None:
    long_text = "hello " * (CONTEXT_SIZE + 10)
    with pytest.raises(BadRequestError) as caught:
        modelserver.client().chat.completions.create(
            model=CHAT_MODEL, messages=[{"role": "user", "content": long_text}]
        )
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"] == "context_length_exceeded"


@pytest.mark.parametrize(
    "body",
    [
        {"model": CHAT_MODEL, "messages": HELLO, "temperature": 5},
        {"model": CHAT_MODEL, "messages": []},
        {"model": CHAT_MODEL},
        {"model": CHAT_MODEL, "messages": HELLO, "stop": ["a", "b", "c", "d", "e"]},
        {"model": CHAT_MODEL, "messages": HELLO, "logit_bias": {"99999999": 5}},
        {"model": CHAT_MODEL, "messages": HELLO, "top_k": -1},
    ],
)
def test_invalid_requests_are_400(modelserver: RunningModelServer, body: dict[str, Any]) -> None:
    response = modelserver.post("/v1/chat/completions", body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"


def test_unknown_fields_are_ignored_and_extras_apply(modelserver: RunningModelServer) -> None:
    response = modelserver.post(
        "/v1/chat/completions",
        {
            "model": CHAT_MODEL,
            "messages": HELLO,
            "max_completion_tokens": 3,
            "something_new": {"x": 1},
            "top_k": 1,
            "min_p": 0.1,
            "repetition_penalty": 1.1,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["completion_tokens"] <= 3


def test_embedding_model_is_not_a_chat_model(modelserver: RunningModelServer) -> None:
    response = modelserver.post(
        "/v1/chat/completions", {"model": "all-minilm-l6-v2", "messages": HELLO}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


def test_unknown_route_uses_the_error_envelope(modelserver: RunningModelServer) -> None:
    response = modelserver.post("/v1/nothing", {})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"

"""The official ``anthropic`` SDK (Messages) and the ``openai`` SDK's Responses client
against the running gateway, with an OpenAI-compatible, an Anthropic, a Gemini and an
Azure fake upstream behind it. Raw answers are checked against the official OpenAI spec
(Responses) and parsed by the SDKs' own types (Anthropic's published shapes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from tests.fakes import anthropic_upstream, azure_upstream, gemini_upstream, openai_upstream
from tests.http.test_billing_rules import usage_row
from tests.support.billing import fund, set_price
from tests.support.gateway import RunningGateway, fresh_database, start_gateway
from tests.support.openapi_spec import validate_response_event, validate_schema
from tests.support.servers import ServerThread

# model -> the text its fake upstream answers
TEXT = {
    "fake-model": "Hello from fake",
    "anthropic/claude-sonnet-4": "Hello from Claude",
    "google/gemini-2.5-flash": "Hello from Gemini",
    "azure/gpt-4o": "Hello from Azure",
}
TOOL_MODELS = ["fake-tools", "anthropic/claude-tools", "google/gemini-tool"]
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
FUNCTION = {
    "type": "function",
    "name": WEATHER["name"],
    "description": WEATHER["description"],
    "parameters": WEATHER["input_schema"],
}


def channels(openai_url: str, claude_url: str, gemini_url: str, azure_url: str) -> list[Any]:
    return [
        {
            "name": "oa",
            "base_url": openai_url + "/v1",
            "api_key": "sk-upstream-secret-value",
            "models": [
                *["fake-model", "fake-tools", "fake-echo", "fake-midstream-error"],
                *["fake-twin", "native/mixed"],
            ],
        },
        {
            # The same fake serving /v1/responses itself: Responses pass through to it.
            "name": "oa-native",
            "base_url": openai_url + "/v1",
            "api_key": "sk-upstream-secret-value",
            "native_responses": True,
            "models": ["native/gpt", "native/mixed"],
            "model_map": {"native/gpt": "gpt-upstream"},
        },
        {
            "name": "claude",
            "type": "anthropic",
            "base_url": claude_url,
            "api_key": anthropic_upstream.API_KEY,
            "models": [
                "anthropic/claude-sonnet-4",
                "anthropic/claude-tools",
                "anthropic/claude-thinking",
                "anthropic/claude-midstream-error",
            ],
            "model_map": {
                "anthropic/claude-sonnet-4": "claude-sonnet-4-20250514",
                "anthropic/claude-tools": "claude-tools",
                "anthropic/claude-thinking": "claude-thinking",
                "anthropic/claude-midstream-error": "claude-midstream-error",
            },
        },
        {
            "name": "gemini",
            "type": "gemini",
            "base_url": gemini_url + "/v1beta",
            "api_key": gemini_upstream.API_KEY,
            "models": ["google/gemini-2.5-flash", "google/gemini-tool"],
            "model_map": {
                "google/gemini-2.5-flash": "gemini-2.5-flash",
                "google/gemini-tool": "gemini-tool",
            },
        },
        {
            "name": "azure",
            "type": "azure",
            "base_url": azure_url,
            "api_key": azure_upstream.API_KEY,
            "api_version": "2024-10-21",
            "models": ["azure/gpt-4o"],
            "model_map": {"azure/gpt-4o": "gpt4o-prod"},
        },
    ]


@pytest.fixture(scope="module")
def claude_recorder() -> anthropic_upstream.Recorder:
    return anthropic_upstream.Recorder()


@pytest.fixture(scope="module")
def oa_recorder() -> openai_upstream.Recorder:
    return openai_upstream.Recorder()


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory,
    claude_recorder: anthropic_upstream.Recorder,
    oa_recorder: openai_upstream.Recorder,
) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp("inbound")
    with (
        ServerThread(openai_upstream.create_fake_openai(oa_recorder)) as oa,
        ServerThread(anthropic_upstream.create_fake_anthropic(claude_recorder)) as an,
        ServerThread(gemini_upstream.create_fake_gemini(gemini_upstream.GeminiRecorder())) as gm,
        ServerThread(azure_upstream.create_fake_azure(azure_upstream.AzureRecorder())) as az,
    ):
        running, server = start_gateway(
            fresh_database("sqlite", tmp, None),
            tmp / "data",
            upstreams=channels(oa.url, an.url, gm.url, az.url),
            model_server={"enabled": False},
        )
        try:
            yield running
        finally:
            server.__exit__()


def claude(gw: RunningGateway, **kw: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=gw.admin_token, max_retries=0, **kw)


def oai(gw: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.admin_token, max_retries=0)


# ---------------------------------------------------------------- Anthropic Messages


@pytest.mark.parametrize("model", list(TEXT))
def test_messages_sync(gw: RunningGateway, model: str) -> None:
    message = claude(gw).messages.create(
        model=model,
        max_tokens=64,
        system="Be brief.",
        messages=[{"role": "user", "content": "hi"}],
    )
    assert message.model == model
    assert message.content[0].type == "text"
    assert message.content[0].text == TEXT[model]
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0


@pytest.mark.parametrize("model", list(TEXT))
async def test_messages_async_stream(gw: RunningGateway, model: str) -> None:
    client = anthropic.AsyncAnthropic(base_url=gw.url, auth_token=gw.admin_token, max_retries=0)
    async with client.messages.stream(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert final.content[0].text == TEXT[model]  # type: ignore[union-attr]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_start" in kinds and "message_delta" in kinds
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    await client.close()


@pytest.mark.parametrize("model", TOOL_MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_messages_tools(gw: RunningGateway, model: str, stream: bool) -> None:
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": 256,
        "tools": [WEATHER],
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
    }
    client = claude(gw)
    if stream:
        with client.messages.stream(**request) as events:
            message = events.get_final_message()
    else:
        message = client.messages.create(**request)
    uses = [b for b in message.content if b.type == "tool_use"]
    assert uses and all(b.name == "get_weather" for b in uses)
    assert all(isinstance(b.input, dict) and b.input.get("city") for b in uses)
    assert message.stop_reason == "tool_use"


def test_messages_tool_loop_with_parallel_results(gw: RunningGateway) -> None:
    client = claude(gw)
    first = client.messages.create(
        model="fake-tools",
        max_tokens=256,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "Weather in Paris and Tokyo?"}],
    )
    uses = [b for b in first.content if b.type == "tool_use"]
    assert len(uses) == 2
    results = [{"type": "tool_result", "tool_use_id": b.id, "content": "sunny"} for b in uses]
    second = client.messages.create(
        model="fake-tools",
        max_tokens=256,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Paris and Tokyo?"},
            {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
            {"role": "user", "content": results},  # type: ignore[typeddict-item]
        ],
    )
    assert second.content[0].text == "Hello from fake"  # type: ignore[union-attr]


def test_messages_errors_use_anthropics_envelope(gw: RunningGateway) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude(gw).messages.create(
            model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    bad = anthropic.Anthropic(base_url=gw.url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(
            model="fake-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    raw = httpx.post(
        gw.url + "/v1/messages",
        headers={"x-api-key": gw.admin_token},
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert raw.status_code == 400
    assert raw.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": raw.json()["error"]["message"]},
    }
    not_json = httpx.post(
        gw.url + "/v1/messages", headers={"x-api-key": gw.admin_token}, content=b"{oops"
    )
    assert not_json.status_code == 400
    message = not_json.json()["error"]["message"]
    assert "Anthropic API expects a JSON payload" in message and "OpenAI" not in message


@pytest.mark.parametrize("model", ["fake-midstream-error", "anthropic/claude-midstream-error"])
def test_messages_error_mid_stream_is_an_error_event(gw: RunningGateway, model: str) -> None:
    with (
        pytest.raises(anthropic.APIStatusError),
        claude(gw).messages.stream(
            model=model,
            max_tokens=16,
            messages=[{"role": "user", "content": "hi"}],
        ) as stream,
    ):
        stream.get_final_message()


def test_count_tokens(gw: RunningGateway) -> None:
    counted = claude(gw).messages.count_tokens(
        model="fake-model", messages=[{"role": "user", "content": "hello " * 40}]
    )
    assert 30 < counted.input_tokens < 100


# ---------------------------------------------------------------- OpenAI Responses


@pytest.mark.parametrize("model", list(TEXT))
def test_responses_create(gw: RunningGateway, model: str) -> None:
    raw = httpx.post(
        gw.base_url + "/responses",
        headers={"authorization": f"Bearer {gw.admin_token}"},
        json={"model": model, "input": "hi", "instructions": "Be brief.", "store": False},
        timeout=30,
    )
    assert raw.status_code == 200
    validate_schema(raw.json(), "Response")
    response = oai(gw).responses.create(model=model, input="hi", store=False)
    assert response.output_text == TEXT[model]
    assert response.status == "completed" and response.model == model
    assert response.usage is not None and response.usage.output_tokens > 0


@pytest.mark.parametrize("model", list(TEXT))
def test_responses_stream(gw: RunningGateway, model: str) -> None:
    body = {"model": model, "input": "hi", "stream": True, "store": False}
    with httpx.stream(
        "POST",
        gw.base_url + "/responses",
        headers={"authorization": f"Bearer {gw.admin_token}"},
        json=body,
        timeout=30,
    ) as raw:
        lines = [line for line in raw.iter_lines() if line.startswith("data: ")]
    events = [orjson.loads(line[6:]) for line in lines]
    for event in events:
        validate_response_event(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    with oai(gw).responses.stream(model=model, input="hi", store=False) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == TEXT[model]


@pytest.mark.parametrize("model", TOOL_MODELS)
def test_responses_tools_then_outputs_by_previous_response_id(
    gw: RunningGateway, model: str
) -> None:
    client = oai(gw)
    first = client.responses.create(model=model, input="Weather?", tools=[FUNCTION])  # type: ignore[list-item]
    calls = [o for o in first.output if o.type == "function_call"]
    assert calls and all(orjson.loads(c.arguments).get("city") for c in calls)
    outputs = [
        {"type": "function_call_output", "call_id": c.call_id, "output": "sunny"} for c in calls
    ]
    second = client.responses.create(
        model=model,
        previous_response_id=first.id,
        input=outputs,  # type: ignore[arg-type]
        tools=[FUNCTION],  # type: ignore[list-item]
    )
    assert second.previous_response_id == first.id
    assert second.output  # an answer (the fakes may call again: they are scripted)


def test_responses_stream_tools(gw: RunningGateway) -> None:
    with oai(gw).responses.stream(
        model="fake-tools",
        input="Weather?",
        tools=[FUNCTION],  # type: ignore[list-item]
        store=False,
    ) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    calls = [o for o in final.output if o.type == "function_call"]
    assert [orjson.loads(c.arguments) for c in calls] == [{"city": "Paris"}, {"city": "Tokyo"}]


def test_responses_error_envelope(gw: RunningGateway) -> None:
    with pytest.raises(openai.NotFoundError):
        oai(gw).responses.create(model="no-such-model", input="hi")
    with pytest.raises(openai.BadRequestError) as bad:
        oai(gw).responses.create(model="fake-model", input="hi", tools=[{"type": "web_search"}])
    assert bad.value.param == "tools"  # type: ignore[attr-defined]


def test_inbound_endpoints_are_in_the_api_reference(gw: RunningGateway) -> None:
    paths = httpx.get(gw.url + "/api/openapi.json").json()["paths"]
    assert "text/event-stream" in paths["/v1/messages"]["post"]["responses"]["200"]["content"]
    assert {"get", "delete"} <= set(paths["/v1/responses/{response_id}"])
    for path in (
        "/v1/messages/count_tokens",
        "/v1/responses",
        "/v1/responses/{response_id}/input_items",
    ):
        assert path in paths, path


def test_messages_to_an_anthropic_channel_pass_through_natively(
    gw: RunningGateway, claude_recorder: anthropic_upstream.Recorder
) -> None:
    """What no translation can carry reaches Anthropic and comes back: ``top_k``, cache
    marks, signed thinking blocks; the model is shown as asked."""
    system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    plain = claude(gw).messages.create(
        model="anthropic/claude-sonnet-4",
        max_tokens=64,
        system=system,  # type: ignore[arg-type]
        extra_body={"top_k": 5},
        messages=[{"role": "user", "content": "hi"}],
    )
    sent = claude_recorder.requests[-1]
    assert sent["top_k"] == 5 and sent["system"] == system  # the translation drops both
    assert sent["model"] == "claude-sonnet-4-20250514"
    assert plain.model == "anthropic/claude-sonnet-4"
    assert plain.id == "msg_01Fake"  # Anthropic's own id: nothing was rebuilt
    message = claude(gw).messages.create(
        model="anthropic/claude-thinking",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "2+2?"}],
    )
    assert message.content[0].type == "thinking"
    assert message.content[0].signature == "sig-fake"  # type: ignore[union-attr]
    with claude(gw).messages.stream(
        model="anthropic/claude-thinking",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "2+2?"}],
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert final.content[0].signature == "sig-fake"  # type: ignore[union-attr]
    assert final.model == "anthropic/claude-thinking"
    assert "signature" in kinds  # signature_delta relayed as Anthropic sent it


@pytest.mark.parametrize("stream", [False, True])
def test_native_messages_are_metered_from_anthropics_usage(
    gw: RunningGateway, stream: bool
) -> None:
    request: dict[str, Any] = {
        "model": "anthropic/claude-sonnet-4",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
    client = claude(gw)
    if stream:
        with client.messages.with_streaming_response.create(**request, stream=True) as raw:
            request_id = raw.headers["x-request-id"]
            raw.read()
    else:
        request_id = client.messages.with_raw_response.create(**request).headers["x-request-id"]
    row = usage_row(gw, request_id)
    # The fake reports 12 input + 2 cache-write + 4 cache-read tokens and 5 output tokens.
    assert (row.prompt_tokens, row.cached_tokens, row.completion_tokens) == (18, 4, 5)
    assert row.endpoint == "messages" and row.channel == "claude" and not row.estimated


# ---------------------------------------------------------------- native Responses


def _payer(gw: RunningGateway) -> openai.OpenAI:
    for model in ("native/gpt", "fake-twin"):
        set_price(gw, model, input_per_m=3_000_000, output_per_m=15_000_000, per_call=7)
    key = gw.create_key("responses-payer")
    fund(gw, "responses-payer", 10_000_000)
    return openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0)


def test_responses_pass_through_natively(
    gw: RunningGateway, oa_recorder: openai_upstream.Recorder
) -> None:
    """A channel with ``native_responses`` gets the Responses request as the client sent
    it (fields no translation keeps included), under its own model name; the Response
    and the typed events come back as it wrote them, naming the model asked for."""
    seen = len(oa_recorder.responses_requests)
    raw = httpx.post(
        gw.base_url + "/responses",
        headers={"authorization": f"Bearer {gw.admin_token}"},
        json={"model": "native/gpt", "input": "hi", "store": False, "truncation": "auto"},
        timeout=30,
    )
    assert raw.status_code == 200
    validate_schema(raw.json(), "Response")
    sent = oa_recorder.responses_requests[-1]
    assert sent == {"model": "gpt-upstream", "input": "hi", "store": False, "truncation": "auto"}
    client = oai(gw)
    response = client.responses.create(
        model="native/gpt",
        input="hi",
        instructions="Be brief.",
        metadata={"k": "v"},
        tools=[{"type": "web_search"}],  # refused by the translation, the upstream's here
    )
    assert oa_recorder.responses_requests[-1]["metadata"] == {"k": "v"}
    assert oa_recorder.responses_requests[-1]["tools"] == [{"type": "web_search"}]
    assert response.output_text == "Hello from fake" and response.model == "native/gpt"
    assert response.output[0].id == "msg_fake123"  # the upstream's own item: not rebuilt
    assert client.responses.retrieve(response.id).output_text == "Hello from fake"
    body = {"model": "native/gpt", "input": "hi", "stream": True, "store": False}
    with httpx.stream(
        "POST",
        gw.base_url + "/responses",
        headers={"authorization": f"Bearer {gw.admin_token}"},
        json=body,
        timeout=30,
    ) as stream_raw:
        lines = [line for line in stream_raw.iter_lines() if line.startswith("data: ")]
    events = [orjson.loads(line[6:]) for line in lines]
    for event in events:
        validate_response_event(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["response"]["model"] == "native/gpt"
    assert oa_recorder.responses_requests[-1]["stream"] is True
    with client.responses.stream(model="native/gpt", input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Hello from fake"
    assert final.model == "native/gpt"
    assert len(oa_recorder.responses_requests) == seen + 4
    # A model with a route that does not serve Responses is translated through chat.
    mixed = client.responses.create(model="native/mixed", input="hi", store=False)
    assert mixed.output_text == "Hello from fake"
    assert len(oa_recorder.responses_requests) == seen + 4


@pytest.mark.parametrize("stream", [False, True])
def test_native_responses_are_billed_like_translated_ones(gw: RunningGateway, stream: bool) -> None:
    """The Responses ``usage`` (9 input, 3 output tokens, as the chat fake reports) is
    metered and billed as the same answer through chat is."""
    client = _payer(gw)
    rows = []
    for model in ("native/gpt", "fake-twin"):
        if stream:
            with client.responses.with_streaming_response.create(
                model=model, input="hi", stream=True, store=False
            ) as raw:
                request_id = raw.headers["x-request-id"]
                raw.read()
        else:
            answer = client.responses.with_raw_response.create(model=model, input="hi")
            request_id = answer.headers["x-request-id"]
        rows.append(usage_row(gw, request_id))
    native, translated = rows
    assert native.channel == "oa-native" and translated.channel == "oa"
    assert (native.prompt_tokens, native.cached_tokens, native.completion_tokens) == (9, 0, 3)
    for column in ("endpoint", "prompt_tokens", "cached_tokens", "completion_tokens", "cost"):
        assert getattr(native, column) == getattr(translated, column), column
    assert native.cost == -(-(9 * 3_000_000 + 3 * 15_000_000) // 1_000_000) + 7
    assert native.stream == translated.stream == stream and not native.estimated

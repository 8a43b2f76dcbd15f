"""``store`` and ``previous_response_id`` on SQLite and PostgreSQL: responses are kept
per user, continued, listed, deleted; and both inbound APIs are billed and logged by the
same path as chat."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest
from sqlalchemy import select

from cong.storage.billing_tables import LedgerEntry
from tests.http.test_billing_rules import usage_row
from tests.support.billing import db_call, fund, set_price, wallet_state
from tests.support.gateway import RunningGateway
from tests.support.openapi_spec import validate_schema


def oai(gw: RunningGateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=key or gw.admin_token, max_retries=0)


def upstream_messages(response: Any) -> list[dict[str, Any]]:
    """What the fake-echo upstream received (it answers with the request body)."""
    messages: list[dict[str, Any]] = orjson.loads(response.output_text)["messages"]
    return messages


def test_previous_response_id_continues_the_stored_conversation(gateway: RunningGateway) -> None:
    client = oai(gateway)
    first = client.responses.create(
        model="fake-echo", input="My name is Lan.", instructions="Speak Vietnamese."
    )
    assert first.store is True
    second = client.responses.create(
        model="fake-echo", input="What is my name?", previous_response_id=first.id
    )
    sent = upstream_messages(second)
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[0]["content"] == "My name is Lan."
    assert sent[1]["content"] == first.output_text  # the stored answer, not re-sent by us
    assert sent[2]["content"] == "What is my name?"  # instructions are not carried over
    # A third turn continues from the second, over the whole chain.
    third = client.responses.create(
        model="fake-echo", input="Again?", previous_response_id=second.id
    )
    assert len(upstream_messages(third)) == 5

    fetched = client.responses.retrieve(second.id)
    assert fetched.id == second.id and fetched.output_text == second.output_text
    raw = httpx.get(
        f"{gateway.base_url}/responses/{second.id}/input_items",
        headers={"authorization": f"Bearer {gateway.admin_token}"},
    )
    validate_schema(raw.json(), "ResponseItemList")
    items = client.responses.input_items.list(second.id)
    assert [i.type for i in items.data] == ["message"]
    assert items.data[0].content[0].text == "What is my name?"  # type: ignore[union-attr]

    client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(first.id)
    # The second turn kept its own copy of the conversation.
    fourth = client.responses.create(
        model="fake-echo", input="Still?", previous_response_id=second.id
    )
    assert upstream_messages(fourth)[0]["content"] == "My name is Lan."


def test_stored_responses_are_private_and_optional(gateway: RunningGateway) -> None:
    mine = oai(gateway).responses.create(model="fake-model", input="hi")
    other = oai(gateway, gateway.create_key("someone-else"))
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError) as missing:
        other.responses.create(model="fake-model", input="hi", previous_response_id=mine.id)
    assert missing.value.body["param"] == "previous_response_id"  # type: ignore[index]
    unstored = oai(gateway).responses.create(model="fake-model", input="hi", store=False)
    with pytest.raises(openai.NotFoundError):
        oai(gateway).responses.retrieve(unstored.id)
    # A streamed response is stored once it completes.
    with oai(gateway).responses.stream(model="fake-model", input="hi") as stream:
        final = stream.get_final_response()
    assert oai(gateway).responses.retrieve(final.id).output_text == "Hello from fake"


def _settlement(gw: RunningGateway, request_id: str) -> int:
    entries = db_call(
        gw, lambda s: s.scalars(select(LedgerEntry).where(LedgerEntry.request_id == request_id))
    )
    return -sum(e.amount for e in entries if e.kind == "settlement")


def test_inbound_apis_are_billed_and_logged_like_chat(gateway: RunningGateway) -> None:
    set_price(gateway, "fake-model", input_per_m=3_000_000, output_per_m=15_000_000, per_call=7)
    key = gateway.create_key("payer")
    fund(gateway, "payer", 10_000_000)
    for api in ("messages", "responses", "messages-stream", "responses-stream"):
        _billed_like_chat(gateway, key, api)


def _billed_like_chat(gateway: RunningGateway, key: str, api: str) -> None:
    stream = api.endswith("stream")
    if api.startswith("messages"):
        client = anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0)
        request: dict[str, Any] = {
            "model": "fake-model",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}],
        }
        if stream:
            with client.messages.with_streaming_response.create(**request, stream=True) as raw:
                request_id = raw.headers["x-request-id"]
                raw.read()
        else:
            raw = client.messages.with_raw_response.create(**request)
            request_id = raw.headers["x-request-id"]
    else:
        body = {"model": "fake-model", "input": "hi", "max_output_tokens": 100, "stream": stream}
        answer = httpx.post(
            gateway.base_url + "/responses", headers={"authorization": f"Bearer {key}"}, json=body
        )
        assert answer.status_code == 200
        request_id = answer.headers["x-request-id"]
        if not stream:  # the Response's id names its request
            assert answer.json()["id"] == "resp_" + request_id.removeprefix("req_")
    row = usage_row(gateway, request_id)
    # The fake upstream reports 9 prompt and 3 completion tokens; priced as chat would be.
    expected = -(-(9 * 3_000_000 + 3 * 15_000_000) // 1_000_000) + 7
    assert (row.prompt_tokens, row.completion_tokens, row.cost) == (9, 3, expected)
    assert row.requested_model == "fake-model" and row.channel == "fake" and row.stream == stream
    assert row.endpoint == api.removesuffix("-stream")
    assert _settlement(gateway, request_id) == expected
    state = wallet_state(gateway, "payer")
    assert state.balance == state.ledger_sum and state.open_reservations == 0

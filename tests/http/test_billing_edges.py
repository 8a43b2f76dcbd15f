"""Billing edges as a client sees them (SQLite and PostgreSQL): legacy completions pay for
every prompt and candidate, a request without max_tokens pays what the upstream reports,
and usage the upstream reports wrong is estimated — never a credit, never a 500, never a
stuck usage log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cong.storage.billing_tables import LedgerEntry
from cong.storage.tables import ApiKey
from cong.storage.usage_tables import UsageLog
from tests.fakes.openai_upstream import Recorder
from tests.support.billing import db_call, fund, set_price, wallet_state
from tests.support.gateway import RunningGateway

IN_PER_M, OUT_PER_M = 1_000_000, 2_000_000  # 1 and 2 micro-units per token


def cost(prompt: int, completion: int) -> int:
    return prompt + 2 * completion


@pytest.fixture
def forced_usage(fake_openai: tuple[str, Recorder]) -> Iterator[Recorder]:
    recorder = fake_openai[1]
    try:
        yield recorder
    finally:
        recorder.force_usage = None


def post(gw: RunningGateway, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        gw.base_url + path,
        headers={"authorization": f"Bearer {key}"},
        json={"model": "fake-model", **body},
        timeout=30,
    )


def entries(gw: RunningGateway, request_id: str) -> dict[str, int]:
    rows = db_call(
        gw, lambda s: s.scalars(select(LedgerEntry).where(LedgerEntry.request_id == request_id))
    )
    return {row.kind: row.amount for row in rows}


def usage_row(gw: RunningGateway, request_id: str) -> UsageLog:
    deadline = time.monotonic() + 5
    while True:
        row = db_call(
            gw, lambda s: s.scalar(select(UsageLog).where(UsageLog.request_id == request_id))
        )
        if row is not None or time.monotonic() > deadline:
            assert row is not None, "usage row not written"
            return row  # type: ignore[no-any-return]
        time.sleep(0.05)


def test_completions_pay_for_every_prompt_and_candidate(gateway: RunningGateway) -> None:
    set_price(gateway, "fake-model", input_per_m=IN_PER_M, output_per_m=OUT_PER_M)
    key = gateway.create_key("writer")
    fund(gateway, "writer", 1_000_000)
    prompts = [f"prompt {i}" for i in range(8)]
    response = post(
        gateway, key, "/completions", {"prompt": prompts, "max_tokens": 3, "n": 2, "best_of": 3}
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["choices"]) == 16
    ledger = entries(gateway, response.headers["x-request-id"])
    # The fake reports 3 prompt tokens per prompt and 3 tokens per candidate (best_of).
    expected = cost(3 * 8, 3 * 8 * 3)
    assert ledger["settlement"] == -expected
    assert -ledger["reservation"] >= cost(0, 3 * 3 * 8)  # every candidate was held for
    assert wallet_state(gateway, "writer").balance == 1_000_000 - expected


def test_without_max_tokens_the_upstream_usage_is_charged(
    gateway: RunningGateway, forced_usage: Recorder
) -> None:
    set_price(gateway, "fake-model", input_per_m=IN_PER_M, output_per_m=OUT_PER_M)
    key = gateway.create_key("talker")
    fund(gateway, "talker", 1_000_000)
    hi = [{"role": "user", "content": "hi"}]
    # Far more output than the default budget (4096 tokens) that sized the hold.
    forced_usage.force_usage = {"prompt_tokens": 9, "completion_tokens": 20_000}
    for stream in (False, True):
        before = wallet_state(gateway, "talker").balance
        response = post(gateway, key, "/chat/completions", {"messages": hi, "stream": stream})
        assert response.status_code == 200
        ledger = entries(gateway, response.headers["x-request-id"])
        assert ledger["settlement"] == -cost(9, 20_000)
        assert -ledger["reservation"] < cost(9, 20_000)
        state = wallet_state(gateway, "talker")
        assert state.balance == before - cost(9, 20_000) == state.ledger_sum
        assert state.open_reservations == 0
    # With max_tokens the hold is the most it can cost.
    response = post(gateway, key, "/chat/completions", {"messages": hi, "max_tokens": 10})
    assert -entries(gateway, response.headers["x-request-id"])["settlement"] < cost(9, 20_000)


BAD_COUNTS = (-1_000_000, "12", 2**53, 2**63 + 5, 1e300, [3], 2.5)


def test_unbelievable_usage_is_estimated(gateway: RunningGateway, forced_usage: Recorder) -> None:
    set_price(gateway, "fake-model", input_per_m=IN_PER_M, output_per_m=OUT_PER_M)
    key = gateway.create_key("victim")
    fund(gateway, "victim", 1_000_000)
    hi = [{"role": "user", "content": "hi"}]
    start = wallet_state(gateway, "victim").balance
    charged: dict[str, int] = {}
    for bad in BAD_COUNTS:
        for field in ("prompt_tokens", "completion_tokens"):
            forced_usage.force_usage = {"prompt_tokens": 9, "completion_tokens": 3, field: bad}
            for stream in (False, True):
                response = post(
                    gateway, key, "/chat/completions", {"messages": hi, "stream": stream}
                )
                assert response.status_code == 200, (bad, field, response.text)
                assert "error" not in response.text
                request_id = response.headers["x-request-id"]
                charged[request_id] = -entries(gateway, request_id)["settlement"]
                # An estimate of a short answer: never a credit, never the absurd count.
                assert 0 < charged[request_id] < 1_000, (bad, field, stream)
    state = wallet_state(gateway, "victim")
    assert state.balance == start - sum(charged.values()) == state.ledger_sum
    assert all(usage_row(gateway, request_id).estimated for request_id in charged)
    # The usage log still takes rows (one bad value used to stop it for everyone).
    forced_usage.force_usage = None
    response = post(gateway, key, "/chat/completions", {"messages": hi})
    row = usage_row(gateway, response.headers["x-request-id"])
    assert (row.prompt_tokens, row.completion_tokens, row.estimated) == (9, 3, False)
    used = db_call(
        gateway,
        lambda s: s.scalar(select(ApiKey.last_used_at).where(ApiKey.public_id == key[3:15])),
    )
    assert used is not None  # written with the usage rows, off the request path

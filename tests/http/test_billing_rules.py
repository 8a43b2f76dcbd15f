"""Prices, holds and settlement as a client sees them, and the key and group rules."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from cong.storage.billing_tables import LedgerEntry
from cong.storage.tables import ApiKey
from cong.storage.usage_tables import UsageLog
from tests.support.billing import db_call, fund, set_group, set_key, set_price, wallet_state
from tests.support.gateway import RunningGateway

HI = [{"role": "user", "content": "hi"}]


def chat(gw: RunningGateway, key: str, **extra: Any) -> httpx.Response:
    return httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "fake-model", "messages": HI, **extra},
        timeout=30,
    )


def usage_row(gw: RunningGateway, request_id: str) -> UsageLog:
    deadline = time.monotonic() + 5
    while True:
        row = db_call(
            gw, lambda s: s.scalar(select(UsageLog).where(UsageLog.request_id == request_id))
        )
        if row is not None or time.monotonic() > deadline:
            assert row is not None, "usage row not written"
            return row  # type: ignore[no-any-return]
        time.sleep(0.1)


def test_exact_settlement_from_upstream_usage(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    set_price(gw, "fake-model", input_per_m=3_000_000, output_per_m=15_000_000, per_call=7)
    key = gw.create_key("payer")
    fund(gw, "payer", 10_000_000)
    response = chat(gw, key, max_tokens=100)
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    entries = db_call(
        gw, lambda s: s.scalars(select(LedgerEntry).where(LedgerEntry.request_id == request_id))
    )
    by_kind = {e.kind: e.amount for e in entries}
    # the fake upstream reports 9 prompt and 3 completion tokens
    expected = -(-(9 * 3_000_000 + 3 * 15_000_000) // 1_000_000) + 7
    assert by_kind["settlement"] == -expected
    assert by_kind["reservation"] == -by_kind["release"]
    assert -by_kind["reservation"] > expected  # the worst case was held, then released
    state = wallet_state(gw, "payer")
    assert state.balance == 10_000_000 - expected == state.ledger_sum
    row = usage_row(gw, request_id)
    assert (row.prompt_tokens, row.completion_tokens, row.cost) == (9, 3, expected)
    assert row.end_reason == "completed" and row.channel == "fake" and not row.estimated
    assert row.requested_model == "fake-model" and row.latency_ms >= 0
    key_row = db_call(gw, lambda s: s.scalar(select(ApiKey).where(ApiKey.public_id == key[3:15])))
    assert (key_row.reserved, key_row.spent) == (0, expected)  # uncapped keys track spend
    set_price(gw, "fake-model", input_per_m=0, output_per_m=0, per_call=0)


def test_an_upstream_refusal_is_logged_as_such_not_as_its_failure(
    sqlite_gateway: RunningGateway,
) -> None:
    """The upstream's own 400 (a mistake only it could see) and 429 are the request's
    end, not upstream failures: dashboards count those apart."""
    gw = sqlite_gateway
    for model, reason in (("fake-400", "invalid_request"), ("fake-429", "rate_limited")):
        for stream in (False, True):
            response = chat(gw, gw.admin_token, model=model, stream=stream)
            assert response.status_code in (400, 429)
            row = usage_row(gw, response.headers["x-request-id"])
            assert (row.status, row.end_reason, row.cost) == (response.status_code, reason, 0)


def test_402_names_the_wallet(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    set_price(gw, "fake-echo", per_call=5_000_000)
    key = gw.create_key("poor")
    fund(gw, "poor", 1_000_000)
    response = httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "fake-echo", "messages": HI},
    )
    assert response.status_code == 402
    assert response.headers["x-should-retry"] == "false"
    error = response.json()["error"]
    assert error["type"] == "insufficient_quota" and error["code"] == "insufficient_quota"
    assert "wallet" in error["message"]
    assert wallet_state(gw, "poor").balance == 1_000_000


def test_key_cap_is_checked_apart_from_the_wallet(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    set_price(gw, "fake-slow", per_call=1_000_000)
    key = gw.create_key("capped")
    fund(gw, "capped", 100_000_000)
    set_key(gw, key[3:15], spend_cap=1_500_000)
    ok = httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "fake-slow", "messages": HI, "max_tokens": 1},
    )
    assert ok.status_code == 200
    capped = httpx.post(
        gw.base_url + "/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "fake-slow", "messages": HI, "max_tokens": 1},
    )
    assert capped.status_code == 402
    assert "spend cap" in capped.json()["error"]["message"]
    other = gw.create_key("capped")  # same wallet, another key: still has money
    assert (
        httpx.post(
            gw.base_url + "/chat/completions",
            headers={"authorization": f"Bearer {other}"},
            json={"model": "fake-slow", "messages": HI},
        ).status_code
        == 200
    )


def test_expired_and_disabled_keys_get_401_saying_which(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    expired = gw.create_key("keys-owner")
    set_key(gw, expired[3:15], expires_at=datetime.now(UTC) - timedelta(minutes=1))
    response = chat(gw, expired)
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]
    disabled = gw.create_key("keys-owner")
    set_key(gw, disabled[3:15], enabled=False)
    response = chat(gw, disabled)
    assert response.status_code == 401 and "disabled" in response.json()["error"]["message"]


def test_ip_allow_list(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    elsewhere = gw.create_key("ip-user")
    set_key(gw, elsewhere[3:15], ip_allow=["10.0.0.0/8", "2001:db8::/32"])
    refused = chat(gw, elsewhere)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "ip_not_allowed"
    local = gw.create_key("ip-user")
    set_key(gw, local[3:15], ip_allow=["2001:db8::/32", "127.0.0.0/8"])
    assert chat(gw, local).status_code == 200


def test_group_models_and_key_models(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    key = gw.create_key("student")
    set_group(gw, "student", "school", models=["fake-echo"])
    refused = chat(gw, key)
    assert refused.status_code == 404  # as if it did not exist: no oracle
    assert refused.json()["error"]["code"] == "model_not_found"
    listed = httpx.get(gw.base_url + "/models", headers={"authorization": f"Bearer {key}"})
    assert {m["id"] for m in listed.json()["data"]} == {"fake-echo"}
    narrow = gw.create_key("student", models=["fake-model"])
    assert chat(gw, narrow).status_code == 404  # the key allows it, the group does not


def test_rate_limit_429_headers(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    key = gw.create_key("hasty")
    set_key(gw, key[3:15], rpm=2, tpm=100_000)
    first = chat(gw, key)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert "x-ratelimit-reset-tokens" in first.headers
    assert chat(gw, key).status_code == 200
    limited = chat(gw, key)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    # 1-second buckets: a request counts until its whole second has left the window
    assert 1 <= int(limited.headers["retry-after"]) <= 61
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"
    assert limited.headers["x-ratelimit-reset-requests"].endswith("s")

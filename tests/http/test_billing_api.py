"""Groups, wallets, redemption codes, prices, usage and ledger through the JSON API:
exact decimal amounts, codes that credit exactly once under concurrency, a price set
through the API charged on the next request, cursor pagination and tenant isolation."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from cong.storage.billing_tables import RedemptionCode
from tests.support.billing import db_call, wallet_state
from tests.support.gateway import RunningGateway, api, auth


def chat(gw: RunningGateway, token: str, model: str = "fake-model") -> httpx.Response:
    return httpx.post(
        gw.base_url + "/chat/completions",
        headers=auth(token),
        timeout=30,
        json={"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
    )


def poll(fetch: Any, ready: Any, seconds: float = 5) -> Any:
    """Usage rows are written in batches: ask again until ``ready`` or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        result = fetch()
        if ready(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_groups_crud(sqlite_gateway: RunningGateway) -> None:
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    made = api(
        gw,
        "POST",
        "/api/groups",
        admin,
        json={
            "name": "gold",
            "models": ["fake-model"],
            "multiplier": "1.5",
            "rpm": 60,
            "tpm": 10_000,
        },
    )
    assert made.status_code == 201, made.text
    assert made.json()["multiplier"] == "1.5" and made.json()["multiplier_ppm"] == 1_500_000
    assert made.json()["members"] == 0
    assert api(gw, "POST", "/api/groups", admin, json={"name": "gold"}).status_code == 409
    bad = api(gw, "POST", "/api/groups", admin, json={"name": "bad name!"})
    assert bad.status_code == 400
    gw.create_key("grp-member")
    api(gw, "PATCH", "/api/users/grp-member", admin, json={"group": "gold"})
    changed = api(
        gw,
        "PATCH",
        "/api/groups/gold",
        admin,
        json={"multiplier": 0.8, "models": None, "rpm": None, "name": "silver"},
    )
    assert changed.status_code == 200, changed.text
    group = changed.json()
    assert (group["name"], group["multiplier_ppm"], group["models"], group["rpm"]) == (
        "silver",
        800_000,
        None,
        None,
    )
    assert group["tpm"] == 10_000 and group["members"] == 1
    listed = {g["name"]: g for g in api(gw, "GET", "/api/groups", admin).json()}
    assert "default" in listed and listed["silver"]["members"] == 1
    assert api(gw, "GET", f"/api/groups/{group['id']}", admin).json()["name"] == "silver"
    assert api(gw, "DELETE", "/api/groups/default", admin).status_code == 409
    assert api(gw, "PATCH", "/api/groups/default", admin, json={"name": "x"}).status_code == 409
    assert api(gw, "DELETE", "/api/groups/silver", admin).status_code == 204
    assert api(gw, "GET", "/api/groups/silver", admin).status_code == 404
    assert api(gw, "GET", "/api/users/grp-member", admin).json()["group"] == "default"


def test_topup_adjust_and_ledger(sqlite_gateway: RunningGateway) -> None:
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    user = gw.create_key("wal-erin")
    up = api(
        gw,
        "POST",
        "/api/wallets/wal-erin/topup",
        admin,
        json={"amount": "10.5", "note": "bank transfer"},
    )
    assert up.status_code == 200, up.text
    assert up.json()["balance_micros"] == 10_500_000 and up.json()["balance"] == "10.500000"
    down = api(gw, "POST", "/api/wallets/wal-erin/adjust", admin, json={"amount": -0.25})
    assert down.json()["balance_micros"] == 10_250_000
    for amount in ("-1", "0", "1.0000001", "abc", "NaN", "Infinity"):
        bad = api(gw, "POST", "/api/wallets/wal-erin/topup", admin, json={"amount": amount})
        assert bad.status_code == 400, amount
        assert bad.json()["error"]["param"] == "amount"
    assert (
        api(gw, "POST", "/api/wallets/wal-erin/adjust", admin, json={"amount": 0}).status_code
        == 400
    )
    assert (
        api(gw, "POST", "/api/wallets/nobody/topup", admin, json={"amount": 1}).status_code == 404
    )

    wallet = api(gw, "GET", "/api/wallets/wal-erin", user).json()  # a user sees their own
    assert wallet["balance"] == "10.250000" and wallet["available_micros"] == 10_250_000
    assert [(e["kind"], e["amount_micros"], e["note"]) for e in wallet["recent"]] == [
        ("adjustment", -250_000, ""),
        ("topup", 10_500_000, "bank transfer"),
    ]
    ledger = api(gw, "GET", "/api/ledger", user).json()["data"]
    assert sum(e["amount_micros"] for e in ledger) == 10_250_000
    state = wallet_state(gw, "wal-erin")
    assert state.balance == state.ledger_sum == 10_250_000


def test_redemption_code_credits_exactly_once(gateway: RunningGateway) -> None:
    gw, admin = gateway, gateway.admin_token
    made = api(
        gw,
        "POST",
        "/api/codes",
        admin,
        json={"amount": "3.5", "count": 3, "batch": "launch", "expires_in_days": 7},
    )
    assert made.status_code == 201, made.text
    codes = made.json()["codes"]
    assert len(set(codes)) == 3 and made.json()["amount_micros"] == 3_500_000
    users = {name: gw.create_key(name) for name in ("race-a", "race-b")}

    async def storm() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(
                *[
                    client.post(
                        gw.url + "/api/codes/redeem",
                        headers=auth(users[name]),
                        json={"code": codes[0]},
                    )
                    for _ in range(10)
                    for name in users
                ]
            )

    responses = asyncio.run(storm())
    won = [r for r in responses if r.status_code == 200]
    assert len(won) == 1, [r.text for r in responses]
    assert won[0].json()["amount_micros"] == 3_500_000
    assert {r.json()["error"]["code"] for r in responses if r is not won[0]} == {"code_redeemed"}
    states = [wallet_state(gw, name) for name in users]
    assert sorted(s.balance for s in states) == [0, 3_500_000]
    assert all(s.balance == s.ledger_sum for s in states)

    # codes are matched however they are typed; unknown and expired codes are refused
    lower = codes[1].lower().replace("-", " ")
    again = api(gw, "POST", "/api/codes/redeem", users["race-a"], json={"code": lower})
    assert again.status_code == 200, again.text
    unknown = api(gw, "POST", "/api/codes/redeem", users["race-a"], json={"code": "CONG-NOPE"})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "code_invalid"
    db_call(
        gw,
        lambda s: s.execute(
            update(RedemptionCode)
            .where(RedemptionCode.redeemed_by.is_(None))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        ),
    )
    expired = api(gw, "POST", "/api/codes/redeem", users["race-b"], json={"code": codes[2]})
    assert expired.status_code == 400 and expired.json()["error"]["code"] == "code_expired"

    listing = api(gw, "GET", "/api/codes?batch=launch", admin)
    assert listing.status_code == 200
    assert sorted(c["state"] for c in listing.json()["data"]) == ["expired", "redeemed", "redeemed"]
    assert all(code not in listing.text for code in codes)
    assert all(code[-4:] in listing.text for code in codes)
    assert api(gw, "GET", "/api/codes", users["race-a"]).status_code == 403
    redeemed = api(gw, "GET", "/api/ledger?kind=redemption", admin).json()["data"]
    assert sum(e["amount_micros"] for e in redeemed) == 7_000_000


def test_price_set_through_the_api_is_charged(sqlite_gateway: RunningGateway) -> None:
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    user = gw.create_key("price-fay")
    api(gw, "POST", "/api/wallets/price-fay/topup", admin, json={"amount": 1})
    price = api(
        gw,
        "PUT",
        "/api/prices/fake-model",
        admin,
        json={"input": 2.5, "cached_input": "1.25", "output": "10", "per_call": "0.000007"},
    )
    assert price.status_code == 200, price.text
    assert price.json()["input_micros"] == 2_500_000 and price.json()["output"] == "10.000000"
    assert price.json()["per_call_micros"] == 7 and price.json()["free"] is False
    kept = api(gw, "PUT", "/api/prices/fake-model", admin, json={"per_image": 0})
    assert kept.json()["input_micros"] == 2_500_000  # fields left out keep their value
    listed = api(gw, "GET", "/api/prices", user)  # any key may read prices
    assert any(p["model"] == "fake-model" for p in listed.json())

    response = chat(gw, user)
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    expected = -(-(9 * 2_500_000 + 3 * 10_000_000) // 1_000_000) + 7  # 53 + 7 micro-units
    usage = poll(
        lambda: api(gw, "GET", "/api/usage", user).json()["data"], lambda rows: len(rows) == 1
    )
    assert usage[0]["request_id"] == request_id and usage[0]["cost_micros"] == expected
    assert usage[0]["cost"] == "0.000060" and usage[0]["channel"] is None  # admins only
    assert (usage[0]["prompt_tokens"], usage[0]["completion_tokens"]) == (9, 3)
    admin_view = api(gw, "GET", "/api/usage?user=price-fay&model=fake-model", admin).json()
    assert admin_view["data"][0]["channel"] == "fake"
    settled = api(gw, "GET", "/api/ledger?kind=settlement&model=fake-model", user).json()
    assert [e["amount_micros"] for e in settled["data"]] == [-expected]
    by_key = api(gw, "GET", f"/api/ledger?key={usage[0]['key_id']}", user).json()["data"]
    assert {e["kind"] for e in by_key} == {"reservation", "release", "settlement"}
    assert wallet_state(gw, "price-fay").balance == 1_000_000 - expected
    assert api(gw, "DELETE", "/api/prices/fake-model", admin).status_code == 204
    slashed = api(gw, "PUT", "/api/prices/lab/qwen-7b", admin, json={"output": "0.5"})
    assert slashed.status_code == 200 and slashed.json()["model"] == "lab/qwen-7b"
    assert api(gw, "GET", "/api/prices/lab/qwen-7b", user).json()["output_micros"] == 500_000
    assert api(gw, "DELETE", "/api/prices/lab/qwen-7b", admin).status_code == 204
    assert api(gw, "GET", "/api/prices/fake-model", admin).status_code == 404


def test_cached_input_costs_the_input_price_until_set_apart_and_aliases_are_refused(
    sqlite_gateway: RunningGateway,
) -> None:
    """A price without cached_input charges cached prompt tokens as input (the embedded
    model's prompt cache reports most of a prompt as cached: free would be a gift); a
    price on an alias is refused naming the model it stands for."""
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    model = "fake-embed"  # a served model no other test prices

    def put(body: dict[str, Any]) -> dict[str, Any]:
        answer = api(gw, "PUT", f"/api/prices/{model}", admin, json=body)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    assert put({"input": "3"})["cached_input_micros"] == 3_000_000
    assert put({"input": "4"})["cached_input_micros"] == 4_000_000  # still following
    assert put({"cached_input": "1"})["cached_input_micros"] == 1_000_000  # set apart
    assert put({"input": "5"})["cached_input_micros"] == 1_000_000  # stays apart
    assert api(gw, "DELETE", f"/api/prices/{model}", admin).status_code == 204

    alias = api(gw, "PUT", "/api/prices/gpt-4o", admin, json={"input": "0"})
    assert alias.status_code == 400
    assert "fake-model" in alias.json()["error"]["message"]
    assert all(p["model"] != "gpt-4o" for p in api(gw, "GET", "/api/prices", admin).json())


def test_usage_and_ledger_pages_and_tenants(sqlite_gateway: RunningGateway) -> None:
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    gus, hal = gw.create_key("page-gus"), gw.create_key("page-hal")
    for _ in range(5):
        assert chat(gw, gus).status_code == 200
        api(gw, "POST", "/api/wallets/page-gus/topup", admin, json={"amount": "0.1"})
    poll(
        lambda: api(gw, "GET", "/api/usage?limit=10", gus).json()["data"],
        lambda rows: len(rows) == 5,
    )

    for path, total in (("/api/usage", 5), ("/api/ledger", 5)):
        seen: list[int] = []
        cursor = ""
        for size in (2, 2, 1):
            page = api(gw, "GET", f"{path}?limit=2&cursor={cursor}", gus).json()
            assert len(page["data"]) == size
            seen += [row["id"] for row in page["data"]]
            cursor = page["next_cursor"]
        assert cursor is None and len(set(seen)) == total and seen == sorted(seen, reverse=True)
    assert api(gw, "GET", "/api/usage?cursor=abc", gus).status_code == 400
    assert api(gw, "GET", "/api/usage?limit=0", gus).status_code == 400

    key_id = api(gw, "GET", "/api/usage?limit=1", gus).json()["data"][0]["key_id"]
    assert len(api(gw, "GET", f"/api/usage?key={key_id}", gus).json()["data"]) == 5
    assert api(gw, "GET", "/api/usage?model=fake-echo", gus).json()["data"] == []
    assert api(gw, "GET", "/api/usage?since=2999-01-01", gus).json()["data"] == []
    assert len(api(gw, "GET", "/api/usage?since=2000-01-01", gus).json()["data"]) == 5
    assert len(api(gw, "GET", "/api/usage?user=page-gus", admin).json()["data"]) == 5

    # hal sees nothing of gus: his own listings are empty and naming gus is a 404
    assert api(gw, "GET", "/api/usage", hal).json()["data"] == []
    assert api(gw, "GET", "/api/ledger", hal).json()["data"] == []
    for path in (
        "/api/usage?user=page-gus",
        f"/api/usage?key={key_id}",
        "/api/ledger?user=page-gus",
        f"/api/ledger?key={key_id}",
        "/api/wallets/page-gus",
    ):
        response = api(gw, "GET", path, hal)
        assert response.status_code == 404, (path, response.text)
    assert api(gw, "GET", "/api/usage?user=nobody", admin).status_code == 404

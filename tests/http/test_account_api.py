"""Users, keys, /api/me and /api/key/usage through the JSON API: CRUD, what a non-admin
may grant (never more than they have: 403), tenant isolation (another user's key is a
404), and listings that never carry a secret."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from cong.accounts.credentials import hash_key, load_or_create_secret
from tests.support.gateway import RunningGateway, api, auth


def chat(gw: RunningGateway, token: str, model: str = "fake-model") -> httpx.Response:
    return httpx.post(
        gw.base_url + "/chat/completions",
        headers=auth(token),
        timeout=30,
        json={"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
    )


def test_user_crud(sqlite_gateway: RunningGateway) -> None:
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    made = api(gw, "POST", "/api/users", admin, json={"name": "crud-ann", "credit_limit": "1.5"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["credit_limit_micros"] == 1_500_000 and body["credit_limit"] == "1.500000"
    assert body["group"] == "default" and body["role"] == "user" and body["balance_micros"] == 0
    assert body["available_micros"] == 1_500_000
    assert api(gw, "POST", "/api/users", admin, json={"name": "crud-ann"}).status_code == 409
    too_precise = api(
        gw, "POST", "/api/users", admin, json={"name": "crud-x", "credit_limit": "0.0000001"}
    )
    assert too_precise.status_code == 400
    assert too_precise.json()["error"]["param"] == "credit_limit"

    group = api(gw, "POST", "/api/groups", admin, json={"name": "crud-team"})
    assert group.status_code == 201
    patched = api(
        gw,
        "PATCH",
        "/api/users/crud-ann",
        admin,
        json={"group": "crud-team", "credit_limit": 2.25, "role": "admin"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["group"] == "crud-team"
    assert patched.json()["credit_limit_micros"] == 2_250_000
    assert patched.json()["role"] == "admin"
    by_id = api(gw, "GET", f"/api/users/{body['id']}", admin).json()
    assert by_id["name"] == "crud-ann" and by_id["role"] == "admin"
    assert (
        api(gw, "PATCH", "/api/users/crud-ann", admin, json={"group": "no-such-group"}).status_code
        == 404
    )
    assert (
        api(gw, "PATCH", "/api/users/crud-ann", admin, json={"balance": 100}).status_code == 400
    )  # balances move via the ledger
    listed = api(gw, "GET", "/api/users", admin).json()
    assert {"admin", "crud-ann"} <= {u["name"] for u in listed}

    assert api(gw, "DELETE", "/api/users/crud-ann", admin).status_code == 204
    assert api(gw, "GET", "/api/users/crud-ann", admin).status_code == 404
    # the last admin can be neither demoted nor deleted
    last = api(gw, "PATCH", "/api/users/admin", admin, json={"role": "user"})
    assert last.status_code == 409
    assert api(gw, "DELETE", "/api/users/admin", admin).status_code == 409


def test_openapi_documents_the_api(sqlite_gateway: RunningGateway) -> None:
    spec = httpx.get(sqlite_gateway.url + "/api/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/api/users", "post"),
        ("/api/users/{ref}", "patch"),
        ("/api/keys", "post"),
        ("/api/keys/{key_id}", "delete"),
        ("/api/me", "get"),
        ("/api/key/usage", "get"),
    ]:
        operation = paths[path][method]
        assert operation["summary"], path
    created = paths["/api/keys"]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"]["$ref"].endswith("/KeyCreated")
    assert "key_hash" not in str(spec["components"]["schemas"]["KeyOut"])


def test_keys_self_service_and_isolation(gateway: RunningGateway) -> None:
    gw = gateway
    alice, bob = gw.create_key("iso-alice"), gw.create_key("iso-bob")
    expires = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    made = api(
        gw,
        "POST",
        "/api/keys",
        alice,
        json={
            "name": "laptop",
            "models": ["fake-model"],
            "spend_cap": "5",
            "period_cap": 1.25,
            "period": "day",
            "ip_allow": ["127.0.0.1", "10.0.0.0/8"],
            "rpm": 100,
            "tpm": 100_000,
            "expires_at": expires,
        },
    )
    assert made.status_code == 201, made.text
    key = made.json()
    token, key_id = key["key"], key["id"]
    assert token.startswith("sk-") and key["user"] == "iso-alice" and key["state"] == "active"
    assert key["spend_cap_micros"] == 5_000_000 and key["period_cap"] == "1.250000"
    assert key["ip_allow"] == ["10.0.0.0/8", "127.0.0.1/32"] and key["models"] == ["fake-model"]
    assert chat(gw, token).status_code == 200
    assert chat(gw, token, "fake-echo").status_code == 404  # not its model: model_not_found

    secret = load_or_create_secret(gw.settings.data_dir, None)
    mine = api(gw, "GET", "/api/keys", alice)
    assert mine.status_code == 200
    assert {k["user"] for k in mine.json()} == {"iso-alice"} and len(mine.json()) == 2
    one = api(gw, "GET", f"/api/keys/{key_id}", alice)
    everything = api(gw, "GET", "/api/keys", gw.admin_token)
    for response in (mine, one, everything):
        for secret_text in (token, token[15:], hash_key(secret, token), alice, alice[15:]):
            assert secret_text not in response.text
    assert key_id in everything.text

    # bob cannot see or touch alice's key, nor list her keys: 404, as if absent
    for method, path, payload in [
        ("GET", f"/api/keys/{key_id}", None),
        ("PATCH", f"/api/keys/{key_id}", {"name": "mine"}),
        ("POST", f"/api/keys/{key_id}/revoke", None),
        ("DELETE", f"/api/keys/{key_id}", None),
        ("GET", "/api/keys?user=iso-alice", None),
    ]:
        response = api(gw, method, path, bob, json=payload)
        assert response.status_code == 404, (method, path, response.text)
    assert chat(gw, token).status_code == 200

    renamed = api(
        gw,
        "PATCH",
        f"/api/keys/{key_id}",
        alice,
        json={"name": "desk", "spend_cap": None, "period_cap": None},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "desk" and renamed.json()["spend_cap"] is None
    assert renamed.json()["period"] is None and renamed.json()["rpm"] == 100
    disabled = api(gw, "PATCH", f"/api/keys/{key_id}", alice, json={"enabled": False})
    assert disabled.json()["state"] == "disabled"
    assert chat(gw, token).status_code == 401
    api(gw, "PATCH", f"/api/keys/{key_id}", alice, json={"enabled": True})
    revoked = api(gw, "POST", f"/api/keys/{key_id}/revoke", alice)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert chat(gw, token).status_code == 401
    again = api(gw, "PATCH", f"/api/keys/{key_id}", alice, json={"enabled": True})
    assert again.status_code == 409
    assert api(gw, "DELETE", f"/api/keys/{key_id}", alice).status_code == 204
    assert api(gw, "GET", f"/api/keys/{key_id}", alice).status_code == 404
    # an admin manages anyone's keys
    for_bob = api(gw, "POST", "/api/keys", gw.admin_token, json={"user": "iso-bob"})
    assert for_bob.status_code == 201 and for_bob.json()["user"] == "iso-bob"
    assert api(gw, "GET", f"/api/keys/{for_bob.json()['id']}", bob).status_code == 200


def test_non_admin_never_grants_more_than_they_have(sqlite_gateway: RunningGateway) -> None:
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    carol = gw.create_key("grant-carol")
    api(
        gw,
        "POST",
        "/api/groups",
        admin,
        json={"name": "grant-team", "models": ["fake-model", "fake-slow"], "rpm": 100},
    )
    api(gw, "PATCH", "/api/users/grant-carol", admin, json={"group": "grant-team"})

    def refused(method: str, path: str, token: str, payload: Any = None) -> None:
        response = api(gw, method, path, token, json=payload)
        assert response.status_code == 403, (path, payload, response.text)
        assert response.json()["error"]["type"] == "permission_error"

    refused("PATCH", "/api/users/grant-carol", carol, {"role": "admin"})
    refused("POST", "/api/users", carol, {"name": "grant-sock", "role": "admin"})
    refused("POST", "/api/wallets/grant-carol/topup", carol, {"amount": 100})
    refused("POST", "/api/wallets/grant-carol/adjust", carol, {"amount": 100})
    refused("POST", "/api/codes", carol, {"amount": 100})
    refused("PUT", "/api/prices/fake-model", carol, {"input": 0})
    refused("POST", "/api/groups", carol, {"name": "grant-mine"})
    refused("POST", "/api/keys", carol, {"models": ["fake-echo"]})  # not in her group
    refused("POST", "/api/keys", carol, {"rpm": 1000})  # above her group's 100
    refused("POST", "/api/keys", carol, {"user": "admin"})

    narrow = api(
        gw,
        "POST",
        "/api/keys",
        carol,
        json={
            "models": ["fake-model"],
            "ip_allow": ["127.0.0.0/8"],
            "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    ).json()
    child = api(gw, "POST", "/api/keys", narrow["key"], json={"name": "child"})
    assert child.status_code == 201, child.text
    # restrictions the request leaves out are inherited from the calling key
    assert child.json()["models"] == ["fake-model"]
    assert child.json()["ip_allow"] == ["127.0.0.0/8"]
    assert child.json()["expires_at"] is not None
    refused("POST", "/api/keys", narrow["key"], {"models": ["fake-slow"]})
    refused("POST", "/api/keys", narrow["key"], {"ip_allow": ["0.0.0.0/0"]})
    refused(
        "POST",
        "/api/keys",
        narrow["key"],
        {"expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()},
    )
    refused("PATCH", f"/api/keys/{narrow['id']}", narrow["key"], {"models": None})
    refused("PATCH", f"/api/keys/{narrow['id']}", narrow["key"], {"expires_at": None})
    refused("PATCH", f"/api/keys/{narrow['id']}", narrow["key"], {"ip_allow": None})
    # limits that add up across keys: a limited key can neither mint nor raise them
    limited = api(gw, "POST", "/api/keys", carol, json={"rpm": 5, "spend_cap": "1"}).json()
    refused("POST", "/api/keys", limited["key"], {"rpm": 5})
    refused("PATCH", f"/api/keys/{limited['id']}", limited["key"], {"rpm": 50})
    refused("PATCH", f"/api/keys/{limited['id']}", limited["key"], {"spend_cap": None})
    refused("PATCH", f"/api/keys/{limited['id']}", limited["key"], {"period": "month"})
    ok = api(gw, "PATCH", f"/api/keys/{limited['id']}", limited["key"], json={"name": "x"})
    assert ok.status_code == 200
    # the unrestricted personal key may lift what it set
    lifted = api(
        gw, "PATCH", f"/api/keys/{limited['id']}", carol, json={"rpm": None, "spend_cap": None}
    )
    assert lifted.status_code == 200 and lifted.json()["rpm"] is None


def test_me_and_per_key_usage_view(sqlite_gateway: RunningGateway) -> None:
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    owner = gw.create_key("view-dora")
    api(gw, "POST", "/api/wallets/view-dora/topup", admin, json={"amount": "2"})
    api(gw, "PUT", "/api/prices/fake-echo", admin, json={"input": 100, "output": 200})
    capped = api(
        gw,
        "POST",
        "/api/keys",
        owner,
        json={"models": ["fake-echo"], "spend_cap": "0.5", "period_cap": "0.25", "period": "day"},
    ).json()
    me = api(gw, "GET", "/api/me", capped["key"])
    assert me.status_code == 200
    assert me.json()["user"]["name"] == "view-dora"
    assert me.json()["user"]["balance_micros"] == 2_000_000
    assert me.json()["key"]["id"] == capped["id"] and capped["key"] not in me.text

    assert chat(gw, capped["key"], "fake-echo").status_code == 200
    cost = -(-(9 * 100_000_000 + 3 * 200_000_000) // 1_000_000)  # 1500 micro-units
    deadline = time.monotonic() + 5
    while True:
        view = api(gw, "GET", "/api/key/usage", capped["key"])
        assert view.status_code == 200, view.text
        body = view.json()
        if body["totals"]["requests"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert body["key"]["id"] == capped["id"] and capped["key"] not in view.text
    assert body["totals"]["requests"] == 1 and body["totals"]["cost_micros"] == cost
    assert body["by_model"][0]["model"] == "fake-echo"
    assert (body["totals"]["prompt_tokens"], body["totals"]["completion_tokens"]) == (9, 3)
    assert body["key"]["spent_micros"] == cost
    assert body["spend_remaining_micros"] == 500_000 - cost
    assert body["period_spent_micros"] == cost
    assert body["period_remaining_micros"] == 250_000 - cost
    assert body["wallet_available_micros"] == 2_000_000 - cost
    assert body["remaining_micros"] == 250_000 - cost and body["limited_by"] == "period_cap"
    assert body["remaining"] == "0.248500"
    since = api(gw, "GET", "/api/key/usage?since=2999-01-01", capped["key"]).json()
    assert since["totals"]["requests"] == 0
    # only this key: the owner's other key has its own (empty) view
    other = api(gw, "GET", "/api/key/usage", owner).json()
    assert other["totals"]["requests"] == 0 and other["limited_by"] == "wallet"
    api(gw, "DELETE", "/api/prices/fake-echo", admin)

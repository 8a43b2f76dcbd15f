"""The models catalogue (/api/models) and the extra fields of /v1/models entries:
context length, capabilities, the price for the caller's group, live state."""

from __future__ import annotations

import httpx

from tests.support.gateway import RunningGateway, api, auth
from tests.support.openapi_spec import validate_schema


def _v1_models(gw: RunningGateway, token: str) -> dict[str, dict[str, object]]:
    listing = httpx.get(gw.base_url + "/models", headers=auth(token), timeout=30).json()
    validate_schema(listing, "ListModelsResponse")  # the official spec still validates
    return {m["id"]: m for m in listing["data"]}


def test_v1_models_carry_context_pricing_and_capabilities(sqlite_gateway: RunningGateway) -> None:
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    assert api(gw, "POST", "/api/groups", admin, json={"name": "cat-x2", "multiplier": 2})
    api(gw, "POST", "/api/users", admin, json={"name": "cat-user", "group": "cat-x2"})
    api(gw, "PUT", "/api/prices/fake-model", admin, json={"input": "2.5", "output": "10"})
    token = gw.create_key("cat-user")

    models = _v1_models(gw, token)
    fake = models["fake-model"]
    assert fake["pricing"] == {
        "prompt": "0.000005",  # 2.5 per 1M tokens, doubled by the group
        "completion": "0.00002",
        "input_cache_read": "0.000005",  # no cached price set: the input price
        "request": "0",
        "image": "0",
    }
    assert fake["capabilities"] == ["chat", "tools", "vision", "json"]
    assert "vision" not in models["fake-echo"]["capabilities"]  # a text-only model
    assert models["fake-embed"]["capabilities"] == ["embeddings"]
    assert models["gpt-4o"]["pricing"] == fake["pricing"]  # an alias is priced as its model
    one = httpx.get(gw.base_url + "/models/fake-model", headers=auth(token)).json()
    validate_schema(one, "Model")
    assert one["pricing"] == fake["pricing"] and one["capabilities"] == fake["capabilities"]


def test_catalogue_for_the_caller_and_admin_corrections(sqlite_gateway: RunningGateway) -> None:
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    token = gw.create_key("cat-limited", models=["fake-model", "gpt-4o"])
    listing = api(gw, "GET", "/api/models", token)
    assert listing.status_code == 200
    entries = {e["id"]: e for e in listing.json()["data"]}
    assert set(entries) == {"fake-model", "gpt-4o"}  # only what this key may call
    fake = entries["fake-model"]
    assert fake["aliases"] == ["gpt-4o"] and entries["gpt-4o"]["alias_of"] == "fake-model"
    assert fake["kind"] == "chat" and fake["owned_by"] and fake["state"] == "up"
    assert fake["context_length"] is None  # nothing known about this name
    assert fake["price"]["input_per_m_micros"] >= 0

    refused = api(gw, "PUT", "/api/models/fake-model", token, json={"context_length": 4096})
    assert refused.status_code == 403
    fixed = api(
        gw,
        "PUT",
        "/api/models/fake-model",
        admin,
        json={"context_length": 4096, "capabilities": ["chat", "reasoning"]},
    )
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["context_length"] == 4096
    assert fixed.json()["capabilities"] == ["chat", "reasoning"]
    v1 = _v1_models(gw, token)["fake-model"]
    assert v1["context_length"] == 4096 and v1["capabilities"] == ["chat", "reasoning"]
    bad = api(gw, "PUT", "/api/models/fake-model", admin, json={"capabilities": ["telepathy"]})
    assert bad.status_code == 400
    assert api(gw, "PUT", "/api/models/no-such", admin, json={}).status_code == 404
    api(gw, "PUT", "/api/models/fake-model", admin, json={})  # back to the built-in facts
    assert api(gw, "GET", "/api/models/fake-model", token).json()["context_length"] is None


def test_live_state_follows_the_circuit(sqlite_gateway: RunningGateway) -> None:
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    assert api(gw, "GET", "/api/models/fake-500", admin).json()["state"] == "up"
    for _ in range(3):
        httpx.post(
            gw.base_url + "/chat/completions",
            headers=auth(admin),
            json={"model": "fake-500", "messages": [{"role": "user", "content": "hi"}]},
            timeout=30,
        )
    assert api(gw, "GET", "/api/models/fake-500", admin).json()["state"] == "down"

"""Channels managed through the admin JSON API: keys encrypted and masked, routing
follows at once, non-admins are refused."""

from __future__ import annotations

import httpx

from tests.fakes.openai_upstream import Recorder
from tests.support.gateway import RunningGateway


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_channel_lifecycle(gateway: RunningGateway, fake_openai: tuple[str, Recorder]) -> None:
    url, recorder = fake_openai
    admin = _auth(gateway.admin_token)
    api = gateway.url + "/api/channels"
    created = httpx.post(
        api,
        headers=admin,
        json={
            "name": "lab-vllm",
            "type": "openai",
            "base_url": url + "/v1",
            "api_keys": ["sk-lab-secret-key-0001"],
            "models": ["lab/qwen"],
            "model_map": {"lab/qwen": "fake-model"},
            "priority": 5,
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["keys"] == ["…0001"]
    assert "sk-lab-secret" not in created.text

    listing = httpx.get(api, headers=admin)
    assert "sk-lab-secret" not in listing.text
    assert any(c["name"] == "lab-vllm" for c in listing.json())
    assert any(c["source"] == "config" for c in listing.json())

    chat = httpx.post(
        gateway.base_url + "/chat/completions",
        headers=admin,
        json={"model": "lab/qwen", "messages": [{"role": "user", "content": "x"}]},
    )
    assert chat.status_code == 200
    assert chat.json()["model"] == "lab/qwen"
    assert recorder.requests[-1]["model"] == "fake-model"
    assert recorder.headers[-1]["authorization"] == "Bearer sk-lab-secret-key-0001"

    tested = httpx.post(api + "/lab-vllm/test", headers=admin).json()
    assert tested["ok"] is True and tested["latency_ms"] > 0

    disabled = httpx.patch(api + "/lab-vllm", headers=admin, json={"enabled": False})
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    gone = httpx.post(
        gateway.base_url + "/chat/completions",
        headers=admin,
        json={"model": "lab/qwen", "messages": [{"role": "user", "content": "x"}]},
    )
    assert gone.status_code == 404

    assert httpx.delete(api + "/lab-vllm", headers=admin).status_code == 204
    assert httpx.get(api + "/lab-vllm", headers=admin).status_code == 404


def test_channel_api_validation_and_permissions(gateway: RunningGateway) -> None:
    api = gateway.url + "/api/channels"
    user_key = gateway.create_key("plain-user")
    refused = httpx.get(api, headers=_auth(user_key))
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "permission_error"
    bad = httpx.post(
        api, headers=_auth(gateway.admin_token), json={"name": "x", "base_url": "ftp://nope"}
    )
    assert bad.status_code == 400
    assert "error" in bad.json()
    clash = httpx.post(
        api,
        headers=_auth(gateway.admin_token),
        json={"name": "fake", "base_url": "http://127.0.0.1:1/v1"},
    )
    assert clash.status_code == 409


def test_request_may_not_choose_upstream(sqlite_gateway: RunningGateway) -> None:
    for field, value in (
        ("api_base", "http://evil"),
        ("base_url", "http://evil"),
        ("api_key", "sk-mine"),
        ("extra_headers", {"x": "y"}),
    ):
        response = httpx.post(
            sqlite_gateway.base_url + "/chat/completions",
            headers=_auth(sqlite_gateway.admin_token),
            json={
                "model": "fake-model",
                "messages": [{"role": "user", "content": "x"}],
                field: value,
            },
        )
        assert response.status_code == 400
        assert response.json()["error"]["param"] == field

"""Inputs of the wrong type are refused, not coerced: ``true`` is not a count, ``0`` is
not ``false``; a new key cannot be born expired; names hold no control characters; and
a missing field is called missing (found by an outside test pass)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.gateway import RunningGateway, api, auth


@pytest.mark.parametrize(
    ("method", "path", "body", "param"),
    [
        ("POST", "/api/keys", {"rpm": True}, "rpm"),
        ("POST", "/api/keys", {"tpm": "100"}, "tpm"),
        ("POST", "/api/keys", {"enabled": 1}, "enabled"),
        ("POST", "/api/groups", {"name": "typed", "rpm": 1.0}, "rpm"),
        ("POST", "/api/codes", {"amount": "1", "count": True}, "count"),
        ("PUT", "/api/models/fake-model", {"context_length": True}, "context_length"),
        ("PATCH", "/api/users/typed-user", {"enabled": 0}, "enabled"),
        ("POST", "/api/memories", {"text": "typed", "pinned": "yes"}, "pinned"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_400_naming_it(
    sqlite_gateway: RunningGateway, method: str, path: str, body: dict[str, object], param: str
) -> None:
    gw = sqlite_gateway
    gw.create_key("typed-user")
    answer = api(gw, method, path, gw.admin_token, json=body)
    assert answer.status_code == 400, answer.text
    assert param in str(answer.json()["error"]["param"]) + answer.json()["error"]["message"]


def test_keys_and_names_that_cannot_be_right_are_refused(sqlite_gateway: RunningGateway) -> None:
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    for expires in (-1, 0, "2020-01-01T00:00:00Z"):
        born_expired = api(gw, "POST", "/api/keys", admin, json={"expires_at": expires})
        assert born_expired.status_code == 400, born_expired.text
        assert born_expired.json()["error"]["param"] == "expires_at"
    nul_key = api(gw, "POST", "/api/keys", admin, json={"name": "a\x00b"})
    assert nul_key.status_code == 400 and nul_key.json()["error"]["param"] == "name"
    nul_user = api(gw, "POST", "/api/users", admin, json={"name": "lan\x00"})
    assert nul_user.status_code == 400 and nul_user.json()["error"]["param"] == "name"
    assert api(gw, "POST", "/api/users", admin, json={"name": "Lan Nguyễn"}).status_code == 201


def test_missing_fields_are_called_missing(sqlite_gateway: RunningGateway) -> None:
    gw = sqlite_gateway
    headers = auth(gw.admin_token)
    upload = httpx.post(
        gw.base_url + "/files", headers=headers, files={"file": ("a.txt", b"hi")}, timeout=30
    )
    assert upload.status_code == 400
    assert upload.json()["error"]["message"].startswith("Missing required parameter: 'purpose'")

    for spec in ({}, {"file_id": 123}):
        part = {"type": "file", "file": spec}
        chat = httpx.post(
            gw.base_url + "/chat/completions",
            headers=headers,
            json={"model": "fake-model", "messages": [{"role": "user", "content": [part]}]},
            timeout=30,
        )
        assert chat.status_code == 400
        assert "'file_id'" in chat.json()["error"]["message"]

    for max_tokens, words in ((None, "Field required"), (-1, "positive integer")):
        body: dict[str, object] = {
            "model": "fake-model",
            "messages": [{"role": "user", "content": "hi"}],
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        message = httpx.post(gw.base_url + "/messages", headers=headers, json=body, timeout=30)
        assert message.status_code == 400
        assert words in message.json()["error"]["message"]


def test_a_user_created_with_a_refused_password_is_not_created(
    sqlite_gateway: RunningGateway,
) -> None:
    gw, admin = sqlite_gateway, sqlite_gateway.admin_token
    weak = api(gw, "POST", "/api/users", admin, json={"name": "half-made", "password": "short"})
    assert weak.status_code == 400 and weak.json()["error"]["param"] == "password"
    assert api(gw, "GET", "/api/users/half-made", admin).status_code == 404
    made = api(
        gw, "POST", "/api/users", admin, json={"name": "half-made", "password": "long enough 1"}
    )
    assert made.status_code == 201, made.text
    signed_in = httpx.post(
        gw.url + "/api/session",
        json={"username": "half-made", "password": "long enough 1"},
        timeout=30,
    )
    assert signed_in.status_code == 200, signed_in.text

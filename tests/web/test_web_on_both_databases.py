"""The web features that store something, on SQLite and PostgreSQL: the registration
setting and a registration with a code, a model's corrected facts, a password change and
reset, and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from tests.support.gateway import RunningGateway, api
from tests.support.usage_rows import record, write_usage
from tests.support.web import Browser, fresh_ip

PASSWORD = "correct horse battery"


def test_settings_passwords_and_exports(gateway: RunningGateway) -> None:
    gw, admin = gateway, gateway.admin_token
    api(gw, "POST", "/api/groups", admin, json={"name": "both-new"})
    setting = {"mode": "code", "group": "both-new"}
    assert api(gw, "PUT", "/api/settings/registration", admin, json=setting).json() == setting
    assert api(gw, "GET", "/api/settings/registration", admin).json() == setting
    code = api(gw, "POST", "/api/codes", admin, json={"amount": "1", "count": 1}).json()
    visitor = Browser(gw, fresh_ip())
    made = visitor.client.post(
        "/api/session/register",
        json={"username": "both-reg", "password": PASSWORD, "code": code["codes"][0]},
    )
    assert made.status_code == 201, made.text
    assert made.json()["user"]["group"] == "both-new"
    visitor.csrf = made.json()["csrf_token"]
    changed = visitor.call(
        "PUT", "/api/me/password", json={"current_password": PASSWORD, "new_password": "n3w pass!"}
    )
    assert changed.status_code == 204
    assert Browser(gw, fresh_ip()).sign_in(username="both-reg", password="n3w pass!").is_success
    reset = api(gw, "PUT", "/api/users/both-reg/password", admin, json={"password": "r3set pw"})
    assert reset.status_code == 204 and visitor.call("GET", "/api/me").status_code == 401

    fixed = api(gw, "PUT", "/api/models/fake-model", admin, json={"context_length": 32_768})
    assert fixed.json()["context_length"] == 32_768
    assert api(gw, "GET", "/api/models/fake-model", admin).json()["context_length"] == 32_768

    token = gw.create_key("both-csv")
    user = api(gw, "GET", "/api/users/both-csv", admin).json()["id"]
    key = api(gw, "GET", "/api/keys?user=both-csv", admin).json()[0]["id"]
    now = datetime.now(UTC)
    write_usage(gw, [record(now, user, key, "m-both", cost=42, n=i) for i in range(3)])
    text = api(gw, "GET", "/api/usage/export.csv", token).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["cost"] for r in rows] == ["0.000042"] * 3 and rows[0]["model"] == "m-both"

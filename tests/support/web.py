"""Browser-like clients for the web API: a cookie jar, and the CSRF token the pages send."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.support.gateway import RunningGateway, api

_addresses = itertools.count(1)


def fresh_ip() -> str:
    """A client address of its own (believed from X-Forwarded-For by a gateway that
    trusts 127.0.0.1 as a proxy)."""
    n = next(_addresses)
    return f"198.51.{n // 250}.{n % 250 + 1}"


class Browser:
    """One browser: keeps the session cookie, sends X-CSRF-Token when it has one."""

    def __init__(self, gw: RunningGateway, ip: str | None = None) -> None:
        headers = {"x-forwarded-for": ip} if ip else {}
        self.client = httpx.Client(base_url=gw.url, headers=headers, timeout=30)
        self.csrf: str | None = None

    def sign_in(self, **body: str) -> httpx.Response:
        response = self.client.post("/api/session", json=body)
        if response.status_code == 200:
            self.csrf = response.json()["csrf_token"]
        return response

    def call(self, method: str, path: str, *, csrf: bool = True, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if csrf and self.csrf:
            headers["x-csrf-token"] = self.csrf
        return self.client.request(method, path, headers=headers, **kw)

    def close(self) -> None:
        self.client.close()


def user_with_password(gw: RunningGateway, name: str, password: str, role: str = "user") -> None:
    admin = gw.admin_token
    made = api(gw, "POST", "/api/users", admin, json={"name": name, "role": role})
    assert made.status_code == 201, made.text
    reset = api(gw, "PUT", f"/api/users/{name}/password", admin, json={"password": password})
    assert reset.status_code == 204, reset.text

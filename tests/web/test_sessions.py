"""Web sign-in: cookies, CSRF, rate limits, key sign-in, sign-out, passwords, and the
same permission checks for a session as for a key."""

from __future__ import annotations

import httpx

from tests.support.gateway import RunningGateway, api, auth
from tests.support.web import Browser, fresh_ip, user_with_password

PASSWORD = "correct horse battery"


def test_password_sign_in_sets_a_safe_cookie_and_no_token_in_the_body(
    web_gateway: RunningGateway,
) -> None:
    gw = web_gateway
    user_with_password(gw, "web-ann", PASSWORD)
    browser = Browser(gw, fresh_ip())
    assert browser.client.get("/api/session").json() == {
        "signed_in": False,
        "registration": "off",
        "via": None,
        "user": None,
        "key_id": None,
        "language": None,
        "currency": "USD",  # what amounts are in: the pages show it
        "has_password": None,
        "expires_at": None,
        "csrf_token": None,
    }
    wrong = browser.sign_in(username="web-ann", password="wrong password")
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    assert wrong.json()["error"]["code"] == "invalid_credentials"

    # a cross-site form can only send a "simple" body: it signs nobody in
    form = browser.client.post(
        "/api/session",
        content='{"username": "web-ann", "password": "correct horse battery"}',
        headers={"content-type": "text/plain"},
    )
    assert form.status_code == 400 and "set-cookie" not in form.headers
    signed = browser.sign_in(username="web-ann", password=PASSWORD)
    assert signed.status_code == 200, signed.text
    cookie = signed.headers["set-cookie"]
    token = browser.client.cookies["cong_session"]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= attributes
    assert "secure" not in attributes  # plain http, no proxy saying https
    assert token not in signed.text
    body = signed.json()
    assert body["signed_in"] and body["via"] == "password" and body["user"]["name"] == "web-ann"
    assert body["has_password"] is True and body["key_id"] is None and body["csrf_token"]

    me = browser.call("GET", "/api/me")
    assert me.status_code == 200 and me.json()["user"]["name"] == "web-ann"
    assert me.json()["key"] is None
    no_key = browser.call("GET", "/api/key/usage")
    assert no_key.status_code == 400 and no_key.json()["error"]["code"] == "no_api_key"
    # the cookie is not a key: /v1 still wants a Bearer key
    v1 = browser.call("GET", "/v1/models")
    assert v1.status_code == 401
    # nor is a token accepted in a URL
    assert httpx.get(gw.url + f"/api/me?api_key={gw.admin_token}").status_code == 401
    browser.close()


def test_secure_cookie_only_over_https_as_told_by_a_trusted_proxy(
    web_gateway: RunningGateway, direct_gateway: RunningGateway
) -> None:
    user_with_password(web_gateway, "web-tls", PASSWORD)
    browser = Browser(web_gateway, fresh_ip())
    signed = browser.client.post(
        "/api/session",
        json={"username": "web-tls", "password": PASSWORD},
        headers={"x-forwarded-proto": "https"},
    )
    assert signed.status_code == 200
    assert "secure" in signed.headers["set-cookie"].lower().replace(" ", "").split(";")
    # a gateway that trusts no proxy ignores the header
    user_with_password(direct_gateway, "web-tls", PASSWORD)
    untrusted = httpx.post(
        direct_gateway.url + "/api/session",
        json={"username": "web-tls", "password": PASSWORD},
        headers={"x-forwarded-proto": "https"},
    )
    assert untrusted.status_code == 200
    assert "secure" not in untrusted.headers["set-cookie"].lower()


def test_state_changes_with_the_cookie_need_the_csrf_token(web_gateway: RunningGateway) -> None:
    gw = web_gateway
    user_with_password(gw, "web-csrf", PASSWORD)
    browser = Browser(gw, fresh_ip())
    assert browser.sign_in(username="web-csrf", password=PASSWORD).status_code == 200
    for headers in ({}, {"x-csrf-token": "forged"}):
        refused = browser.call("POST", "/api/keys", csrf=False, json={}, headers=headers)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "csrf_failed"
        assert (
            browser.call("DELETE", "/api/session", csrf=False, headers=headers).status_code == 403
        )
    assert browser.call("GET", "/api/keys", csrf=False).status_code == 200  # reads need none
    made = browser.call("POST", "/api/keys", json={"name": "from the page"})
    assert made.status_code == 201, made.text
    assert made.json()["user"] == "web-csrf"
    # the session's token is what GET /api/session returns, and only for this session
    assert browser.call("GET", "/api/session").json()["csrf_token"] == browser.csrf
    other = Browser(gw, fresh_ip())
    other.sign_in(username="web-csrf", password=PASSWORD)
    assert other.csrf != browser.csrf
    browser.close()
    other.close()


def test_sign_in_attempts_are_limited_per_account_and_per_address(
    web_gateway: RunningGateway,
) -> None:
    gw = web_gateway
    user_with_password(gw, "web-brute", PASSWORD)
    attacker = Browser(gw, fresh_ip())
    for _ in range(5):
        assert attacker.sign_in(username="web-brute", password="guess1234").status_code == 401
    limited = attacker.sign_in(username="web-brute", password=PASSWORD)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "too_many_sign_in_attempts"
    assert int(limited.headers["retry-after"]) >= 1
    # per account: another address is refused too, even with the right password
    assert (
        Browser(gw, fresh_ip()).sign_in(username="web-brute", password=PASSWORD).status_code == 429
    )

    # per address: one address spraying many accounts
    sprayer = Browser(gw, fresh_ip())
    codes = [
        sprayer.sign_in(username=f"web-spray-{i}", password="guess1234").status_code
        for i in range(9)
    ]
    assert codes == [401] * 8 + [429]
    assert sprayer.sign_in(api_key=gw.admin_token).status_code == 429  # keys count too
    attacker.close()
    sprayer.close()


def test_key_sign_in_has_exactly_the_keys_powers(web_gateway: RunningGateway) -> None:
    gw = web_gateway
    token = gw.create_key("web-keyed", models=["fake-model"])
    browser = Browser(gw, fresh_ip())
    assert browser.sign_in(api_key="sk-not-a-real-key").status_code == 401
    signed = browser.sign_in(api_key=token)
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["via"] == "key" and body["user"]["name"] == "web-keyed"
    assert body["key_id"] and body["key_id"] in token and token not in signed.text
    assert body["has_password"] is False
    wider = browser.call("POST", "/api/keys", json={"models": ["fake-echo"]})
    assert wider.status_code == 403  # never more than the key that signed in
    assert browser.call("POST", "/api/keys", json={"models": ["fake-model"]}).status_code == 201
    revoke = api(gw, "POST", f"/api/keys/{body['key_id']}/revoke", gw.admin_token)
    assert revoke.status_code == 200
    assert browser.call("GET", "/api/me").status_code == 401  # the session ended with the key
    after = browser.call("GET", "/api/session")
    assert after.json()["signed_in"] is False
    assert (
        'cong_session=""' in after.headers["set-cookie"]
        or "Max-Age=0" in after.headers["set-cookie"]
    )
    browser.close()


def test_a_session_gets_the_same_permission_checks_as_a_key(web_gateway: RunningGateway) -> None:
    gw = web_gateway
    user_with_password(gw, "web-plain", PASSWORD)
    user_with_password(gw, "web-boss", PASSWORD, role="admin")
    plain, boss = Browser(gw, fresh_ip()), Browser(gw, fresh_ip())
    plain.sign_in(username="web-plain", password=PASSWORD)
    boss.sign_in(username="web-boss", password=PASSWORD)
    for method, path, body in [
        ("GET", "/api/users", None),
        ("GET", "/api/channels", None),
        ("POST", "/api/codes", {"amount": 1, "count": 1}),
        ("PUT", "/api/users/web-boss/password", {"password": "taken over!!"}),
        ("GET", "/api/settings/registration", None),
        ("PUT", "/api/settings/registration", {"mode": "open"}),
    ]:
        refused = plain.call(method, path, json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"]["code"] == "admin_only"
    assert boss.call("GET", "/api/users").status_code == 200
    assert boss.call("GET", "/api/settings/registration").json() == {"mode": "off", "group": None}
    # another user's key is invisible to a session as to a key
    admin_keys = api(gw, "GET", "/api/keys?user=admin", gw.admin_token).json()
    assert plain.call("GET", f"/api/keys/{admin_keys[0]['id']}").status_code == 404
    plain.close()
    boss.close()


def test_sign_out_ends_the_session_for_good(web_gateway: RunningGateway) -> None:
    gw = web_gateway
    user_with_password(gw, "web-out", PASSWORD)
    browser = Browser(gw, fresh_ip())
    browser.sign_in(username="web-out", password=PASSWORD)
    token = browser.client.cookies["cong_session"]
    out = browser.call("DELETE", "/api/session")
    assert out.status_code == 204
    assert "cong_session" not in browser.client.cookies
    replayed = httpx.get(gw.url + "/api/me", cookies={"cong_session": token})
    assert replayed.status_code == 401
    assert replayed.json()["error"]["code"] == "invalid_session"
    browser.close()


def test_change_and_reset_password_end_other_sessions(web_gateway: RunningGateway) -> None:
    gw = web_gateway
    user_with_password(gw, "web-pw", PASSWORD)
    here, elsewhere = Browser(gw, fresh_ip()), Browser(gw, fresh_ip())
    here.sign_in(username="web-pw", password=PASSWORD)
    elsewhere.sign_in(username="web-pw", password=PASSWORD)
    wrong = here.call(
        "PUT", "/api/me/password", json={"current_password": "nope", "new_password": "n3w pass!"}
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "current_password"
    weak = here.call(
        "PUT", "/api/me/password", json={"current_password": PASSWORD, "new_password": "short"}
    )
    assert weak.status_code == 400 and weak.json()["error"]["param"] == "new_password"
    changed = here.call(
        "PUT", "/api/me/password", json={"current_password": PASSWORD, "new_password": "n3w pass!"}
    )
    assert changed.status_code == 204, changed.text
    assert here.call("GET", "/api/me").status_code == 200  # this session stays
    assert elsewhere.call("GET", "/api/me").status_code == 401  # the others end
    third = Browser(gw, fresh_ip())
    assert third.sign_in(username="web-pw", password=PASSWORD).status_code == 401
    assert third.sign_in(username="web-pw", password="n3w pass!").status_code == 200

    reset = api(
        gw, "PUT", "/api/users/web-pw/password", gw.admin_token, json={"password": "r3set pw"}
    )
    assert reset.status_code == 204
    assert here.call("GET", "/api/me").status_code == 401
    assert third.call("GET", "/api/me").status_code == 401
    assert (
        Browser(gw, fresh_ip()).sign_in(username="web-pw", password="r3set pw").status_code == 200
    )
    for b in (here, elsewhere, third):
        b.close()


def test_language_preference_is_remembered_per_user(web_gateway: RunningGateway) -> None:
    gw = web_gateway
    user_with_password(gw, "web-lang", PASSWORD)
    browser = Browser(gw, fresh_ip())
    browser.sign_in(username="web-lang", password=PASSWORD)
    assert browser.call("GET", "/api/me/language").json() == {"language": None}
    assert browser.call("PUT", "/api/me/language", json={"language": "vi"}).status_code == 200
    assert browser.call("PUT", "/api/me/language", json={"language": "fr"}).status_code == 400
    again = Browser(gw, fresh_ip())
    assert again.sign_in(username="web-lang", password=PASSWORD).json()["language"] == "vi"
    browser.close()
    again.close()


def test_registration_modes(web_gateway: RunningGateway) -> None:
    gw, admin = web_gateway, web_gateway.admin_token
    visitor = Browser(gw, fresh_ip())
    closed = visitor.client.post(
        "/api/session/register", json={"username": "web-reg1", "password": PASSWORD}
    )
    assert closed.status_code == 403 and closed.json()["error"]["code"] == "registration_closed"

    assert api(gw, "PUT", "/api/settings/registration", admin, json={"mode": "open"}).json() == {
        "mode": "open",
        "group": None,
    }
    assert visitor.client.get("/api/session").json()["registration"] == "open"
    opened = visitor.client.post(
        "/api/session/register", json={"username": "web-reg1", "password": PASSWORD}
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["user"]["role"] == "user" and opened.json()["signed_in"]
    assert visitor.client.get("/api/me").json()["user"]["name"] == "web-reg1"
    taken = Browser(gw, fresh_ip()).client.post(
        "/api/session/register", json={"username": "web-reg1", "password": PASSWORD}
    )
    assert taken.status_code == 409

    api(gw, "PUT", "/api/settings/registration", admin, json={"mode": "code"})
    codes = api(gw, "POST", "/api/codes", admin, json={"amount": "2.5", "count": 1}).json()
    code = codes["codes"][0]
    newcomer = Browser(gw, fresh_ip())
    register = "/api/session/register"
    no_code = newcomer.client.post(register, json={"username": "web-reg2", "password": PASSWORD})
    assert no_code.status_code == 400 and no_code.json()["error"]["param"] == "code"
    bad = newcomer.client.post(
        register, json={"username": "web-reg2", "password": PASSWORD, "code": "CONG-XXXX"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "code"
    assert api(gw, "GET", "/api/users/web-reg2", admin).status_code == 404  # not left behind
    good = newcomer.client.post(
        register, json={"username": "web-reg2", "password": PASSWORD, "code": code}
    )
    assert good.status_code == 201, good.text
    assert api(gw, "GET", "/api/users/web-reg2", admin).json()["balance_micros"] == 2_500_000
    reused = Browser(gw, fresh_ip()).client.post(
        register, json={"username": "web-reg3", "password": PASSWORD, "code": code}
    )
    assert reused.status_code == 400
    api(gw, "PUT", "/api/settings/registration", admin, json={"mode": "off"})
    visitor.close()
    newcomer.close()


def test_sessions_on_both_databases(gateway: RunningGateway) -> None:
    gw = gateway
    user_with_password(gw, "web-db", PASSWORD)
    browser = Browser(gw)
    assert browser.sign_in(username="web-db", password=PASSWORD).status_code == 200
    assert browser.call("POST", "/api/keys", csrf=False, json={}).status_code == 403
    made = browser.call("POST", "/api/keys", json={"name": "k"})
    assert made.status_code == 201
    key = made.json()["key"]
    keyed = Browser(gw)
    assert keyed.sign_in(api_key=key).json()["via"] == "key"
    assert browser.call("DELETE", "/api/session").status_code == 204
    assert browser.call("GET", "/api/me").status_code == 401
    assert keyed.call("GET", "/api/me").status_code == 200
    assert httpx.get(gw.url + "/api/me", headers=auth(key)).status_code == 200
    browser.close()
    keyed.close()

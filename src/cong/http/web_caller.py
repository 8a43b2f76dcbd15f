"""Who calls an ``/api`` endpoint that ``http.front`` serves outside FastAPI (the web
chat, the web's files): a key in a header, like ``/v1``, else the web session cookie,
with its CSRF token on any change — the rule of ``http/dependencies.py``."""

from __future__ import annotations

from starlette.requests import Request

from cong.accounts.principal import Principal
from cong.http.api_call import ApiCall
from cong.http.client_address import SESSION_COOKIE, client_ip
from cong.http.dependencies import KEY_HEADERS, SAFE_METHODS, csrf_refused
from cong.protocol.errors import missing_api_key


async def web_principal(call: ApiCall) -> tuple[Principal, bool]:
    """The caller and whether it came with the session cookie (True) or a key."""
    if any(call.header(name) for name in KEY_HEADERS):
        return await call.authenticate(), False
    request = Request(call.scope)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise missing_api_key()
    sessions = call.services.sessions
    if request.method not in SAFE_METHODS and not sessions.csrf_ok(
        token, request.headers.get("x-csrf-token")
    ):
        raise csrf_refused()
    session = await sessions.current(token, client_ip(request, call.services.settings.web))
    return session.principal, True


async def web_caller(call: ApiCall) -> Principal:
    return (await web_principal(call))[0]

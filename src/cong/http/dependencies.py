"""FastAPI dependencies shared by the management routers: who is calling.

One rule for every ``/api`` route: an API key in a header (``Authorization: Bearer``,
``api-key`` or ``x-api-key``: the CLI and scripts), else the web session cookie (the
pages). A request with the cookie that changes something (any method but GET, HEAD and
OPTIONS) must carry the session's CSRF token in ``X-CSRF-Token``. Permission checks
behind this are the same for both.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cong.accounts.principal import Principal
from cong.http.client_address import SESSION_COOKIE, client_ip
from cong.http.context import authenticate as authenticate_key
from cong.http.context import services_of
from cong.protocol.errors import APIError, missing_api_key, permission_denied

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KEY_HEADERS = ("authorization", "api-key", "x-api-key")


def has_key_header(request: Request) -> bool:
    return any(request.headers.get(name) for name in KEY_HEADERS)


PRINCIPAL = "principal"  # request state: the caller, once authenticated (see api_gate.py)


async def authenticate(request: Request) -> Principal:
    known: Principal | None = getattr(request.state, PRINCIPAL, None)
    if known is not None:
        return known
    if has_key_header(request):
        return await authenticate_key(request)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise missing_api_key()
    services = services_of(request)
    if request.method not in SAFE_METHODS and not services.sessions.csrf_ok(
        token, request.headers.get("x-csrf-token")
    ):
        raise csrf_refused()
    ip = client_ip(request, services.settings.web)
    return (await services.sessions.current(token, ip)).principal


async def require_admin(request: Request) -> Principal:
    principal = await authenticate(request)
    if not principal.is_admin:
        raise permission_denied("This endpoint needs an admin key.", code="admin_only")
    return principal


def csrf_refused() -> APIError:
    return permission_denied(
        "Missing or wrong X-CSRF-Token header (GET /api/session returns it).",
        code="csrf_failed",
    )


Admin = Annotated[Principal, Depends(require_admin)]
Caller = Annotated[Principal, Depends(authenticate)]

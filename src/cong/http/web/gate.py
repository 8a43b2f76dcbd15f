"""Who may see a page, decided on the server from the session cookie: the account pages
need a signed-in user (else a redirect to ``/login?next=…``) and ``/admin`` an admin
(others are sent to ``/``). The API behind the pages checks every call again."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse

from cong.accounts.principal import Principal
from cong.http.client_address import SESSION_COOKIE, client_ip
from cong.http.context import services_of
from cong.protocol.errors import APIError

SIGNED_IN = frozenset({"keys", "models", "usage", "wallet", "admin", "chat"})


async def signed_in(request: Request) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    services = services_of(request)
    try:
        web = await services.sessions.current(token, client_ip(request, services.settings.web))
    except APIError:
        return None
    return web.principal


async def refusal(request: Request, page: str) -> RedirectResponse | None:
    """A redirect when the caller may not see ``page``, else None."""
    if page not in SIGNED_IN:
        return None
    principal = await signed_in(request)
    if principal is None:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    if page == "admin" and not principal.is_admin:
        return RedirectResponse("/", status_code=303)
    return None

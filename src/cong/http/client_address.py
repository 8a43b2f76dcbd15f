"""Who is on the other end: the client address and scheme, believing
``X-Forwarded-For`` / ``X-Forwarded-Proto`` only from the trusted proxies in the
settings (``web.trusted_proxies``); and the session cookie's attributes."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import Response

from cong.settings import WebSettings

SESSION_COOKIE = "cong_session"


@lru_cache(maxsize=64)
def _networks(
    proxies: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(host: str | None, settings: WebSettings) -> bool:
    if not host or not settings.trusted_proxies:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in n for n in _networks(tuple(settings.trusted_proxies)))


def client_ip(request: Request, settings: WebSettings) -> str:
    """The peer's address; behind a trusted proxy, the nearest untrusted address in
    ``X-Forwarded-For`` (read from the right, so a client cannot forge it)."""
    host = request.client.host if request.client else ""
    if not _trusted(host, settings):
        return host
    forwarded = request.headers.get("x-forwarded-for", "")
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not _trusted(hop, settings):
            return hop
        host = hop
    return host


def is_https(request: Request, settings: WebSettings) -> bool:
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else None
    if _trusted(peer, settings):
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return proto == "https"
    return False


def set_session_cookie(
    response: Response, request: Request, settings: WebSettings, token: str
) -> None:
    secure = settings.cookie_secure == "always" or (
        settings.cookie_secure == "auto" and is_https(request, settings)
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")

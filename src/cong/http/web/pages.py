"""The pages: ``/`` (docs and quick start, public), ``/login``, ``/keys``, ``/models``,
``/usage``, ``/wallet``, ``/guides``, ``/admin`` and ``/chat``. Each answers the same small shell
(no text of its own: every string comes from the catalogs in ``static/i18n``), which
loads ``/static/js/app.js`` and the page's module. The pages call the management API;
every permission is checked there."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from cong import __version__
from cong.http.context import services_of
from cong.http.web.gate import refusal
from cong.http.web.language import page_language
from cong.http.web.security import PAGE_HEADERS
from cong.http.web.static_files import static_app

PAGES = {
    "/": "docs",
    "/login": "login",
    "/keys": "keys",
    "/models": "models",
    "/usage": "usage",
    "/wallet": "wallet",
    "/guides": "guides",
    "/admin": "admin",
    "/chat": "chat",
}

SHELL = """<!doctype html>
<html lang="{lang}" data-page="{page}" data-base-url="{base}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Cổng</title>
<link rel="icon" href="/static/img/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/css/app.css?v={version}">
<script type="module" src="/static/js/app.js?v={version}"></script>
</head>
<body>
<header id="top"></header>
<main id="main" tabindex="-1"></main>
<footer id="foot"></footer>
</body>
</html>
"""


def base_url(request: Request) -> str:
    """The URL users should call: ``public_url`` when set, else how this request came in."""
    configured = services_of(request).settings.public_url
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


async def page(request: Request) -> Response:
    name = PAGES[request.url.path]
    redirect = await refusal(request, name)
    if redirect is not None:
        return redirect
    body = SHELL.format(
        lang=page_language(request),
        page=name,
        base=html.escape(base_url(request), quote=True),
        version=__version__,
    )
    return HTMLResponse(body, headers=PAGE_HEADERS)


routes: list[BaseRoute] = [
    *(Route(path, page, methods=["GET"], include_in_schema=False) for path in PAGES),
    Mount("/static", app=static_app(), name="static"),
]

"""``/api/docs`` (Swagger UI) and ``/api/redoc`` (ReDoc) over ``/api/openapi.json``,
working offline: their assets are vendored in ``static/vendor`` (pinned npm packages, see
scripts/vendor-api-docs.sh) and served here; the pages run no inline script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cong.http.openapi_doc import build_openapi

STATIC = Path(__file__).resolve().parent / "static"
DESCRIPTION = (
    "Cổng's management API (`/api/...`) and the OpenAI-compatible endpoints (`/v1/...`). "
    "Authenticate with an API key (`Authorization: Bearer sk-…`) or, from the web pages, "
    "the session cookie plus the `X-CSRF-Token` header. Errors use OpenAI's envelope."
)
# The docs pages' policy: scripts from this origin only (no inline script); the two
# libraries set inline styles and ReDoc runs its search in a blob worker.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-cache",
}

_SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cổng API · Swagger UI</title>
<link rel="stylesheet" href="/api/docs/vendor/swagger-ui/swagger-ui.css">
</head><body>
<div id="swagger-ui"></div>
<script src="/api/docs/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/api/docs/assets/swagger-init.js"></script>
</body></html>
"""

_REDOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cổng API · ReDoc</title>
</head><body>
<redoc spec-url="/api/openapi.json"></redoc>
<script src="/api/docs/vendor/redoc/redoc.standalone.js"></script>
</body></html>
"""


async def swagger_page(_request: Request) -> HTMLResponse:
    return HTMLResponse(_SWAGGER, headers=HEADERS)


async def redoc_page(_request: Request) -> HTMLResponse:
    return HTMLResponse(_REDOC, headers=HEADERS)


routes = [
    Route("/api/docs", swagger_page, methods=["GET", "HEAD"]),
    Route("/api/redoc", redoc_page, methods=["GET", "HEAD"]),
    Mount("/api/docs/vendor", app=StaticFiles(directory=STATIC / "vendor")),
    Mount("/api/docs/assets", app=StaticFiles(directory=STATIC / "api-docs")),
]


def install(app: FastAPI) -> None:
    """Serve the docs pages and make ``app.openapi()`` the full document (with /v1)."""
    app.router.routes.extend(routes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, DESCRIPTION)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

"""``/static``: the web app's scripts, styles, catalogs and vendored libraries, served from
the package (no CDN). Browsers revalidate each file (ETag), so an upgrade shows at once."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


class _StaticFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["cache-control"] = "no-cache"
        response.headers["x-content-type-options"] = "nosniff"
        return response


def static_app() -> StaticFiles:
    return _StaticFiles(directory=STATIC_DIR)

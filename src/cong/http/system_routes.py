"""``/api/health`` (public liveness) and ``/api/status`` (public, no secrets)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cong.http.context import services_of

router = APIRouter(prefix="/api", tags=["system"])

_HEALTH = b'{"status":"ok"}'


@router.get("/health", summary="Liveness: 200 while the gateway answers")
async def health() -> Response:
    return Response(_HEALTH, media_type="application/json")


@router.get("/status", summary="Version, uptime, model server and upstream states")
async def status(request: Request) -> dict[str, Any]:
    return await services_of(request).status.report()

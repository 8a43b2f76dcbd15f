"""``/api/health`` (public liveness), ``/api/ready`` (readiness: 503 while draining),
``/api/status`` (public summary; channel details for admins) and ``/metrics``
(Prometheus, admin key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cong.http.client_address import SESSION_COOKIE
from cong.http.context import services_of
from cong.http.dependencies import Admin, authenticate, has_key_header
from cong.http.metrics import CONTENT_TYPE
from cong.protocol.errors import APIError

router = APIRouter(prefix="/api", tags=["system"])
metrics_router = APIRouter(tags=["system"])

_HEALTH = b'{"status":"ok"}'
_READY = b'{"status":"ready"}'
_DRAINING = b'{"status":"draining"}'


@router.get("/health", summary="Liveness: 200 while the gateway answers")
async def health() -> Response:
    return Response(_HEALTH, media_type="application/json")


@router.get(
    "/ready",
    summary="Readiness: 200 while taking requests, 503 once a graceful shutdown began",
    responses={503: {"description": "Draining: send new requests elsewhere"}},
)
async def ready(request: Request) -> Response:
    if services_of(request).status.state() == "draining":
        return Response(_DRAINING, status_code=503, media_type="application/json")
    return Response(_READY, media_type="application/json")


@router.get(
    "/status",
    summary="Version, uptime, model server and upstream states",
    description="Anyone sees each upstream's state, circuit and models; an admin (key or "
    "session) also its name, recent failures and last error, and channels that could not "
    "be loaded.",
)
async def status(request: Request) -> dict[str, Any]:
    admin = False
    if has_key_header(request) or request.cookies.get(SESSION_COOKIE):
        try:
            admin = (await authenticate(request)).is_admin
        except APIError:
            admin = False
    return await services_of(request).status.report(admin=admin)


@metrics_router.get(
    "/metrics",
    summary="Prometheus metrics (admin key)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request, _admin: Admin) -> Response:
    services = services_of(request)
    ms = services.settings.model_server
    await services.metrics.refresh_model_server(
        f"http://{ms.host}:{ms.port}" if ms.enabled and ms.port else None
    )
    return Response(services.metrics.render(), media_type=CONTENT_TYPE)

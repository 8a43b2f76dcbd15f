"""``/api/me/storage``: the caller's file limits (largest upload, quota) and what their
files take now, so a page can refuse an oversize file before sending it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from cong.http.context import services_of
from cong.http.dependencies import Caller

router = APIRouter(prefix="/api/me", tags=["files"])
routers = (router,)


class Storage(BaseModel):
    max_file_bytes: int
    quota_bytes: int
    used_bytes: int


@router.get("/storage", summary="Your file limits and the bytes your files take")
async def storage(request: Request, caller: Caller) -> Storage:
    return Storage(**await services_of(request).files.storage(caller))

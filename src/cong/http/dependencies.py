"""FastAPI dependencies shared by the management routers: who is calling."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cong.accounts.principal import Principal
from cong.http.context import authenticate
from cong.protocol.errors import permission_denied


async def require_admin(request: Request) -> Principal:
    principal = await authenticate(request)
    if not principal.is_admin:
        raise permission_denied("This endpoint needs an admin key.", code="admin_only")
    return principal


Admin = Annotated[Principal, Depends(require_admin)]
Caller = Annotated[Principal, Depends(authenticate)]

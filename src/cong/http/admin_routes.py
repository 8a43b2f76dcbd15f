"""``/api/channels``: upstream accounts, managed by admins."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response

from cong.channels.check import check_channel
from cong.channels.service import ChannelPatch, ChannelSpec, ChannelView
from cong.http.context import services_of
from cong.http.dependencies import Admin

router = APIRouter(prefix="/api/channels", tags=["channels"])


@router.get("", summary="List channels (keys masked)")
async def list_channels(request: Request, _admin: Admin) -> list[ChannelView]:
    return await services_of(request).channels.list_all()


@router.post("", status_code=201, summary="Add a channel")
async def add_channel(request: Request, spec: ChannelSpec, _admin: Admin) -> ChannelView:
    services = services_of(request)
    view = await services.channels.create(spec)
    await services.loader.reload(force=True)
    return view


@router.get("/{ref}", summary="One channel by id or name")
async def get_channel(request: Request, ref: str, _admin: Admin) -> ChannelView:
    return await services_of(request).channels.get(ref)


@router.patch("/{ref}", summary="Change a channel (api_keys replaces all keys)")
async def update_channel(
    request: Request, ref: str, patch: ChannelPatch, _admin: Admin
) -> ChannelView:
    services = services_of(request)
    view = await services.channels.update(ref, patch)
    await services.loader.reload(force=True)
    return view


@router.delete("/{ref}", status_code=204, summary="Remove a channel")
async def remove_channel(request: Request, ref: str, _admin: Admin) -> Response:
    services = services_of(request)
    await services.channels.remove(ref)
    await services.loader.reload(force=True)
    return Response(status_code=204)


@router.post("/{ref}/test", summary="Send one minimal real request through the channel")
async def test_channel(
    request: Request, ref: str, _admin: Admin, model: str | None = None
) -> dict[str, Any]:
    config = await services_of(request).channels.config_of(ref)
    return asdict(await check_channel(config, model))

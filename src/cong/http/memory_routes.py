"""``/api/memories``: the caller's memories (list, search, add, edit, pin, delete,
export, import) and ``/api/memory/mode`` (memory modes of keys and groups)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from cong.http.bounded_ints import Offset, RowId
from cong.http.context import services_of
from cong.http.dependencies import Admin, Caller

router = APIRouter(prefix="/api/memories", tags=["memories"])
modes = APIRouter(prefix="/api/memory", tags=["memories"])
routers = (router, modes)


class MemoryIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    pinned: bool = Field(False, strict=True)


class MemoryPatch(BaseModel):
    text: str | None = Field(None, min_length=1, max_length=2000)
    pinned: bool | None = Field(None, strict=True)


class ImportItem(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    kind: str = "explicit"
    pinned: bool = Field(False, strict=True)


class MemoryImport(BaseModel):
    data: list[ImportItem] = Field(max_length=1000)


class ModeIn(BaseModel):
    mode: str | None = Field(description="off, history, full; null: back to the default")


@router.get("", summary="List your memories (pinned first), or search them with q")
async def list_memories(
    request: Request,
    caller: Caller,
    q: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    memories = services_of(request).chat_memory.memories
    if q:
        found = await memories.search(caller.user_id, q, limit)
        return {"object": "list", "data": [m.as_dict() for m in found], "total": len(found)}
    views, total = await memories.listing(caller.user_id, limit, offset)
    return {"object": "list", "data": [m.as_dict() for m in views], "total": total}


@router.post("", status_code=201, summary="Remember something (stored as written)")
async def add_memory(request: Request, body: MemoryIn, caller: Caller) -> dict[str, Any]:
    memories = services_of(request).chat_memory.memories
    added = await memories.add(caller.user_id, body.text, kind="explicit", pinned=body.pinned)
    return added.as_dict()


@router.get("/export", summary="All your memories as JSON")
async def export_memories(request: Request, caller: Caller) -> dict[str, Any]:
    data = await services_of(request).chat_memory.memories.export(caller.user_id)
    return {"object": "list", "data": data}


@router.post("/import", status_code=201, summary="Add memories from an export")
async def import_memories(request: Request, body: MemoryImport, caller: Caller) -> dict[str, Any]:
    memories = services_of(request).chat_memory.memories
    added = await memories.import_(caller.user_id, [i.model_dump() for i in body.data])
    return {"object": "list", "data": [m.as_dict() for m in added]}


@router.get("/{memory_id}", summary="One memory")
async def get_memory(request: Request, memory_id: RowId, caller: Caller) -> dict[str, Any]:
    return (
        await services_of(request).chat_memory.memories.get(caller.user_id, memory_id)
    ).as_dict()


@router.patch("/{memory_id}", summary="Edit a memory's text, pin or unpin it")
async def edit_memory(
    request: Request, memory_id: RowId, body: MemoryPatch, caller: Caller
) -> dict[str, Any]:
    memories = services_of(request).chat_memory.memories
    edited = await memories.edit(caller.user_id, memory_id, body.text, body.pinned)
    return edited.as_dict()


@router.delete("/{memory_id}", status_code=204, summary="Delete a memory (row and vector)")
async def delete_memory(request: Request, memory_id: RowId, caller: Caller) -> Response:
    await services_of(request).chat_memory.memories.delete(caller.user_id, memory_id)
    return Response(status_code=204)


@router.delete("", summary="Delete all your memories")
async def delete_all_memories(request: Request, caller: Caller) -> dict[str, Any]:
    removed = await services_of(request).chat_memory.memories.delete_all(caller.user_id)
    return {"deleted": removed}


@modes.get("/mode", summary="Your memory mode and your keys' modes")
async def get_modes(request: Request, caller: Caller) -> dict[str, Any]:
    return await services_of(request).memory_modes.overview(caller)


@modes.put("/keys/{key_id}", summary="Set a key's memory mode (yours; any for an admin)")
async def set_key_mode(
    request: Request, key_id: str, body: ModeIn, caller: Caller
) -> dict[str, Any]:
    await services_of(request).memory_modes.set_key(caller, key_id, body.mode)
    return {"key": key_id, "mode": body.mode}


@modes.put("/groups/{group}", summary="Set a group's memory mode (admin)")
async def set_group_mode(
    request: Request, group: str, body: ModeIn, _admin: Admin
) -> dict[str, Any]:
    await services_of(request).memory_modes.set_group(group, body.mode)
    return {"group": group, "mode": body.mode}

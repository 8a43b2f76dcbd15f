"""``/api/conversations``: the caller's own conversations (any of their keys, or their
web session): list with search, get, rename, cut (regenerate / edit and resend), delete,
export as JSON or Markdown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from cong.http.bounded_ints import RowIdField, UnixTimeQuery
from cong.http.context import services_of
from cong.http.dependencies import Caller

router = APIRouter(prefix="/api/conversations", tags=["conversations"])
routers = (router,)


class Rename(BaseModel):
    title: str = Field(min_length=1, max_length=200)


class Cut(BaseModel):
    from_message_id: RowIdField = Field(description="this message and every later one are deleted")


@router.get("", summary="List your conversations, newest first (search in titles and text)")
async def list_conversations(
    request: Request,
    caller: Caller,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: UnixTimeQuery = None,
) -> dict[str, Any]:
    when = datetime.fromtimestamp(before, UTC) if before is not None else None
    data = await services_of(request).conversations.listing(caller.user_id, q, limit, when)
    return {"object": "list", "data": data}


@router.get("/{conversation_id}", summary="One conversation with its messages")
async def get_conversation(
    request: Request,
    conversation_id: str,
    caller: Caller,
    format: Annotated[Literal["json", "markdown"], Query()] = "json",
) -> Any:
    transcript = await services_of(request).conversations.get(caller.user_id, conversation_id)
    if format == "markdown":
        name = conversation_id + ".md"
        return Response(
            transcript.markdown(),
            media_type="text/markdown; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )
    return transcript.as_dict()


@router.get("/{conversation_id}/export", summary="Download as JSON or Markdown")
async def export_conversation(
    request: Request,
    conversation_id: str,
    caller: Caller,
    format: Annotated[Literal["json", "markdown"], Query()] = "json",
) -> Response:
    transcript = await services_of(request).conversations.get(caller.user_id, conversation_id)
    if format == "markdown":
        body, media, ext = transcript.markdown(), "text/markdown; charset=utf-8", "md"
    else:
        body = orjson.dumps(transcript.as_dict(), option=orjson.OPT_INDENT_2).decode()
        media, ext = "application/json", "json"
    return Response(
        body,
        media_type=media,
        headers={"content-disposition": f'attachment; filename="{conversation_id}.{ext}"'},
    )


@router.patch("/{conversation_id}", summary="Rename a conversation")
async def rename_conversation(
    request: Request, conversation_id: str, body: Rename, caller: Caller
) -> dict[str, Any]:
    return await services_of(request).conversations.rename(
        caller.user_id, conversation_id, body.title
    )


@router.post(
    "/{conversation_id}/cut",
    summary="Delete a message and all later ones (to regenerate or edit and resend)",
)
async def cut_conversation(
    request: Request, conversation_id: str, body: Cut, caller: Caller
) -> dict[str, Any]:
    removed = await services_of(request).conversations.cut(
        caller.user_id, conversation_id, body.from_message_id
    )
    return {"id": conversation_id, "deleted_messages": removed}


@router.delete("/{conversation_id}", status_code=204, summary="Delete a conversation")
async def delete_conversation(request: Request, conversation_id: str, caller: Caller) -> Response:
    await services_of(request).conversations.delete(caller.user_id, conversation_id)
    return Response(status_code=204)

"""Queries for stored Responses; every one is scoped to the owning user."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.response_tables import StoredResponse


async def save_response(
    session: AsyncSession,
    user_id: int,
    response: dict[str, Any],
    input_items: list[dict[str, Any]],
    messages: list[dict[str, Any]],
) -> None:
    session.add(
        StoredResponse(
            id=response["id"],
            user_id=user_id,
            response=response,
            input_items=input_items,
            messages=messages,
        )
    )


async def get_response(
    session: AsyncSession, user_id: int, response_id: str
) -> StoredResponse | None:
    row = await session.execute(
        select(StoredResponse).where(
            StoredResponse.id == response_id, StoredResponse.user_id == user_id
        )
    )
    return row.scalar_one_or_none()


async def delete_response(session: AsyncSession, user_id: int, response_id: str) -> bool:
    result = await session.execute(
        delete(StoredResponse).where(
            StoredResponse.id == response_id, StoredResponse.user_id == user_id
        )
    )
    return bool(getattr(result, "rowcount", 0))

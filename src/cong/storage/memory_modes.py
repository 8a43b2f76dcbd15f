"""The memory mode columns of keys and groups."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.billing_tables import Group
from cong.storage.tables import ApiKey


async def key_modes(session: AsyncSession, user_id: int) -> list[tuple[str, str, str | None]]:
    """(public id, name, mode) of the user's live keys."""
    rows = await session.execute(
        select(ApiKey.public_id, ApiKey.name, ApiKey.memory_mode)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.id)
    )
    return [(r[0], r[1], r[2]) for r in rows.all()]


async def set_key_mode(
    session: AsyncSession, public_id: str, user_id: int | None, mode: str | None
) -> bool:
    """Sets a key's mode (``user_id``: only if the key is theirs; None: any key)."""
    query = update(ApiKey).where(ApiKey.public_id == public_id).values(memory_mode=mode)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    result = await session.execute(query)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_group_mode(session: AsyncSession, name: str, mode: str | None) -> bool:
    result = await session.execute(update(Group).where(Group.name == name).values(memory_mode=mode))
    return bool(result.rowcount)  # type: ignore[attr-defined]

"""Queries for channels (upstream accounts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.database import row_id
from cong.storage.tables import Channel


async def list_channels(session: AsyncSession) -> Sequence[Channel]:
    return (await session.execute(select(Channel).order_by(Channel.id))).scalars().all()


async def get_channel(session: AsyncSession, ref: str) -> Channel | None:
    """A channel by numeric id or by name."""
    channel_id = row_id(ref)
    query = select(Channel).where(Channel.id == channel_id if channel_id else Channel.name == ref)
    return (await session.execute(query)).scalar_one_or_none()


async def add_channel(session: AsyncSession, **fields: Any) -> Channel:
    channel = Channel(**fields)
    session.add(channel)
    await session.flush()
    return channel


async def fingerprint(session: AsyncSession) -> tuple[int, datetime | None]:
    """Changes whenever a channel is added, changed or removed."""
    row = (
        await session.execute(select(func.count(Channel.id), func.max(Channel.updated_at)))
    ).one()
    return int(row[0]), row[1]


async def set_health(
    session: AsyncSession, name: str, cooldown_until: datetime | None, last_error: str | None
) -> None:
    await session.execute(
        update(Channel)
        .where(Channel.name == name)
        .values(cooldown_until=cooldown_until, last_error=last_error, updated_at=Channel.updated_at)
    )

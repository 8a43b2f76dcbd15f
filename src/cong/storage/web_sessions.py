"""Queries for web sessions, passwords and site settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.billing_tables import Group
from cong.storage.tables import ApiKey, User
from cong.storage.web_tables import SiteSetting, WebSession

DEFAULT_GROUP = "default"


async def add_session(
    session: AsyncSession,
    *,
    token_hash: str,
    user_id: int,
    key_id: int | None,
    expires_at: datetime,
    ip: str,
    user_agent: str,
) -> None:
    session.add(
        WebSession(
            token_hash=token_hash,
            user_id=user_id,
            key_id=key_id,
            expires_at=expires_at,
            ip=ip[:64],
            user_agent=user_agent[:256],
        )
    )
    await session.flush()


async def find_session(
    session: AsyncSession, token_hash: str
) -> tuple[WebSession, User, Group | None, ApiKey | None] | None:
    """The session, its user, the user's group (``default`` when unset) and its key."""
    default = select(Group.id).where(Group.name == DEFAULT_GROUP).scalar_subquery()
    query = (
        select(WebSession, User, Group, ApiKey)
        .join(User, WebSession.user_id == User.id)
        .outerjoin(Group, Group.id == func.coalesce(User.group_id, default))
        .outerjoin(ApiKey, ApiKey.id == WebSession.key_id)
        .where(WebSession.token_hash == token_hash)
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1], row[2], row[3]) if row else None


async def delete_session(session: AsyncSession, token_hash: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


async def delete_user_sessions(
    session: AsyncSession, user_id: int, keep_hash: str | None = None
) -> None:
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep_hash is not None:
        query = query.where(WebSession.token_hash != keep_hash)
    await session.execute(query)


async def delete_expired(session: AsyncSession, now: datetime) -> None:
    await session.execute(delete(WebSession).where(WebSession.expires_at <= now))


async def set_password_hash(session: AsyncSession, user_id: int, value: str | None) -> None:
    await session.execute(update(User).where(User.id == user_id).values(password_hash=value))


async def set_language(session: AsyncSession, user_id: int, value: str | None) -> None:
    await session.execute(update(User).where(User.id == user_id).values(language=value))


async def get_setting(session: AsyncSession, name: str) -> Any:
    row = await session.get(SiteSetting, name)
    return row.value if row is not None else None


async def put_setting(session: AsyncSession, name: str, value: Any) -> None:
    row = await session.get(SiteSetting, name)
    if row is None:
        session.add(SiteSetting(name=name, value=value))
    else:
        row.value = value
    await session.flush()

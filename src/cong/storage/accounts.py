"""Queries for users and API keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.billing_tables import Group
from cong.storage.database import row_id
from cong.storage.tables import ApiKey, User, utcnow

DEFAULT_GROUP = "default"


async def create_user(session: AsyncSession, name: str, role: str = "user") -> User:
    user = User(name=name, role=role, enabled=True)
    session.add(user)
    await session.flush()
    return user


async def get_user_by_name(session: AsyncSession, name: str) -> User | None:
    return (await session.execute(select(User).where(User.name == name))).scalar_one_or_none()


async def list_users(session: AsyncSession) -> Sequence[User]:
    return (await session.execute(select(User).order_by(User.id))).scalars().all()


async def count_admins(session: AsyncSession) -> int:
    query = select(func.count()).select_from(User).where(User.role == "admin")
    return int((await session.execute(query)).scalar_one())


async def add_key(
    session: AsyncSession,
    user: User,
    *,
    public_id: str,
    key_hash: str,
    prefix: str,
    last4: str,
    name: str,
    models: list[str] | None,
) -> ApiKey:
    key = ApiKey(
        user_id=user.id,
        public_id=public_id,
        key_hash=key_hash,
        prefix=prefix,
        last4=last4,
        name=name,
        models=models,
        enabled=True,
    )
    session.add(key)
    await session.flush()
    return key


async def find_key_by_hash(
    session: AsyncSession, key_hash: str
) -> tuple[ApiKey, User, Group | None] | None:
    """The key, its user and the user's group (the ``default`` group when unset)."""
    default = select(Group.id).where(Group.name == DEFAULT_GROUP).scalar_subquery()
    query = (
        select(ApiKey, User, Group)
        .join(User, ApiKey.user_id == User.id)
        .outerjoin(Group, Group.id == func.coalesce(User.group_id, default))
        .where(ApiKey.key_hash == key_hash)
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1], row[2]) if row else None


async def list_keys(
    session: AsyncSession, user_id: int | None = None
) -> Sequence[tuple[ApiKey, User]]:
    query = select(ApiKey, User).join(User, ApiKey.user_id == User.id).order_by(ApiKey.id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def revoke_key(session: AsyncSession, public_id: str) -> bool:
    query = (
        update(ApiKey)
        .where(ApiKey.public_id == public_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow(), enabled=False)
    )
    result = await session.execute(query)
    return bool(getattr(result, "rowcount", 0))


def _with_group() -> Any:
    """Users with their group (the ``default`` group when unset)."""
    default = select(Group.id).where(Group.name == DEFAULT_GROUP).scalar_subquery()
    return select(User, Group).outerjoin(Group, Group.id == func.coalesce(User.group_id, default))


async def users_with_groups(session: AsyncSession) -> list[tuple[User, Group | None]]:
    rows = (await session.execute(_with_group().order_by(User.id))).all()
    return [(row[0], row[1]) for row in rows]


async def find_user(session: AsyncSession, ref: str | int) -> tuple[User, Group | None] | None:
    """A user by id (an int), or by name, else by a numeric id (a str), with their group."""
    row = None
    if isinstance(ref, str):
        row = (await session.execute(_with_group().where(User.name == ref))).first()
    if row is None and (user_id := row_id(ref)) is not None:
        row = (await session.execute(_with_group().where(User.id == user_id))).first()
    return (row[0], row[1]) if row else None


async def get_key(session: AsyncSession, public_id: str) -> tuple[ApiKey, User] | None:
    query = (
        select(ApiKey, User)
        .join(User, ApiKey.user_id == User.id)
        .where(ApiKey.public_id == public_id)
    )
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row else None


async def delete_key(session: AsyncSession, key_pk: int) -> bool:
    result = await session.execute(delete(ApiKey).where(ApiKey.id == key_pk))
    return bool(getattr(result, "rowcount", 0))


async def delete_user(session: AsyncSession, user_id: int) -> bool:
    await session.execute(delete(ApiKey).where(ApiKey.user_id == user_id))
    result = await session.execute(delete(User).where(User.id == user_id))
    return bool(getattr(result, "rowcount", 0))


async def user_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = (await session.execute(select(User.id, User.name).where(User.id.in_(ids)))).all()
    return {int(row[0]): str(row[1]) for row in rows}

"""Queries for user groups."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.billing_tables import Group
from cong.storage.database import row_id
from cong.storage.tables import User


async def find_group(session: AsyncSession, ref: str | int) -> Group | None:
    """A group by name, or else by numeric id."""
    group = (await session.execute(select(Group).where(Group.name == str(ref)))).scalar()
    if group is None and (group_id := row_id(ref)) is not None:
        group = await session.get(Group, group_id)
    return group


async def list_groups(session: AsyncSession) -> Sequence[tuple[Group, int]]:
    """Every group with its number of members (users with no group are in ``default``)."""
    default = select(Group.id).where(Group.name == "default").scalar_subquery()
    members = (
        select(func.count())
        .select_from(User)
        .where(func.coalesce(User.group_id, default) == Group.id)
        .correlate(Group)
        .scalar_subquery()
    )
    rows = (await session.execute(select(Group, members).order_by(Group.id))).all()
    return [(row[0], int(row[1])) for row in rows]


async def add_group(session: AsyncSession, group: Group) -> Group:
    session.add(group)
    await session.flush()
    return group


async def delete_group(session: AsyncSession, group_id: int) -> bool:
    """Remove a group; its members fall back to the ``default`` group."""
    await session.execute(update(User).where(User.group_id == group_id).values(group_id=None))
    result = await session.execute(delete(Group).where(Group.id == group_id))
    return bool(getattr(result, "rowcount", 0))

"""Queries for redemption codes. Redeeming is one conditional UPDATE, so a code is
spent exactly once however many requests race for it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.billing_tables import RedemptionCode
from cong.storage.tables import User


async def add_codes(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await session.execute(insert(RedemptionCode), rows)


async def claim(
    session: AsyncSession, code_hash: str, user_id: int, now: datetime
) -> tuple[int, int, str] | None:
    """Mark an unredeemed, unexpired code as redeemed by ``user_id``; its id, amount and
    last 4 characters, or None when no such code could be claimed."""
    statement = (
        update(RedemptionCode)
        .where(
            RedemptionCode.code_hash == code_hash,
            RedemptionCode.redeemed_by.is_(None),
            or_(RedemptionCode.expires_at.is_(None), RedemptionCode.expires_at > now),
        )
        .values(redeemed_by=user_id, redeemed_at=now)
        .returning(RedemptionCode.id, RedemptionCode.amount, RedemptionCode.last4)
    )
    row = (await session.execute(statement)).first()
    return (int(row[0]), int(row[1]), str(row[2])) if row else None


async def find_code(session: AsyncSession, code_hash: str) -> RedemptionCode | None:
    query = select(RedemptionCode).where(RedemptionCode.code_hash == code_hash)
    return (await session.execute(query)).scalar_one_or_none()


async def list_codes(
    session: AsyncSession, *, batch: str | None, before_id: int | None, limit: int
) -> Sequence[tuple[RedemptionCode, str | None]]:
    """Codes, newest first, with the name of the user who redeemed each."""
    query = (
        select(RedemptionCode, User.name)
        .outerjoin(User, User.id == RedemptionCode.redeemed_by)
        .order_by(RedemptionCode.id.desc())
        .limit(limit)
    )
    if batch is not None:
        query = query.where(RedemptionCode.batch == batch)
    if before_id is not None:
        query = query.where(RedemptionCode.id < before_id)
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]

"""Queries for the prices table."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cong.storage.billing_tables import Price


async def load_prices(session: AsyncSession) -> Sequence[Price]:
    return (await session.execute(select(Price).order_by(Price.model))).scalars().all()


async def price_of(session: AsyncSession, model: str) -> Price | None:
    return await session.get(Price, model)


async def upsert_price(session: AsyncSession, model: str, **fields: int) -> Price:
    price = await session.get(Price, model)
    if price is None:
        price = Price(model=model, **fields)
        session.add(price)
    else:
        for name, value in fields.items():
            setattr(price, name, value)
    await session.flush()
    return price


async def delete_price(session: AsyncSession, model: str) -> bool:
    result = await session.execute(delete(Price).where(Price.model == model))
    return bool(getattr(result, "rowcount", 0))


async def ensure_free(session: AsyncSession, models: Sequence[str]) -> None:
    """Give models that have no price a free one (the embedded models)."""
    for model in models:
        if await session.get(Price, model) is None:
            session.add(Price(model=model))
    await session.flush()

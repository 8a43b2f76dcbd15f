"""Direct database set-up and inspection for billing tests (prices, funds, key limits)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from cong.storage import wallets as wq
from cong.storage.billing_tables import Group, Price
from cong.storage.database import Database
from cong.storage.tables import ApiKey, User
from tests.support.gateway import RunningGateway, run_async


def _db(gw: RunningGateway) -> Database:
    return Database(gw.settings.effective_database_url)


def db_call(gw: RunningGateway, action: Any) -> Any:
    async def run() -> Any:
        db = _db(gw)
        try:
            async with db.session() as session, session.begin():
                return await action(session)
        finally:
            await db.close()

    return run_async(run)


def set_price(gw: RunningGateway, model: str, **fields: int) -> None:
    async def action(session: Any) -> None:
        price = await session.get(Price, model)
        if price is None:
            session.add(Price(model=model, **fields))
        else:
            for k, v in fields.items():
                setattr(price, k, v)

    db_call(gw, action)


def fund(gw: RunningGateway, user: str, amount: int, credit_limit: int = 0) -> int:
    """Top up through the ledger (so balance == ledger sum) and set the credit limit."""

    async def action(session: Any) -> int:
        user_row = (await session.execute(select(User).where(User.name == user))).scalar_one()
        await wq.credit_wallet(session, user_row.id, amount)
        await wq.add_entry(session, user_row.id, "topup", amount)
        await session.execute(
            update(User).where(User.id == user_row.id).values(credit_limit=credit_limit)
        )
        return int(user_row.id)

    return int(db_call(gw, action))


def set_key(gw: RunningGateway, public_id: str, **fields: Any) -> None:
    db_call(
        gw,
        lambda s: s.execute(update(ApiKey).where(ApiKey.public_id == public_id).values(**fields)),
    )


def set_group(gw: RunningGateway, user: str, name: str, **fields: Any) -> None:
    async def action(session: Any) -> None:
        group = (
            await session.execute(select(Group).where(Group.name == name))
        ).scalar_one_or_none()
        if group is None:
            group = Group(name=name, **fields)
            session.add(group)
            await session.flush()
        await session.execute(update(User).where(User.name == user).values(group_id=group.id))

    db_call(gw, action)


@dataclass
class WalletState:
    balance: int
    credit_limit: int
    ledger_sum: int
    open_reservations: int


def wallet_state(gw: RunningGateway, user: str) -> WalletState:
    async def action(session: Any) -> WalletState:
        row = (await session.execute(select(User).where(User.name == user))).scalar_one()
        return WalletState(
            row.balance,
            row.credit_limit,
            await wq.ledger_sum(session, row.id),
            await wq.open_reservations(session, row.id),
        )

    result: WalletState = db_call(gw, action)
    return result

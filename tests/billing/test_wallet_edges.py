"""Wallet edges on SQLite and PostgreSQL: a request that outlives its reservation is still
charged, a charge above the hold (no output limit) never goes past the credit limit, a
hold abandoned by its caller is released, and the balance always equals the ledger."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from cong.accounts.principal import Principal
from cong.billing.pricing import Prices, Usage
from cong.billing.wallets import ABANDONED_AGAIN, Wallets
from cong.protocol.errors import APIError
from cong.storage import wallets as wq
from cong.storage.billing_tables import LedgerEntry, Price
from cong.storage.database import Database, migrate_async
from cong.storage.tables import ApiKey, User

PER_OUTPUT_TOKEN = 1_000_000  # micro-units per 1M tokens: 1 micro-unit per output token


class Bench:
    def __init__(self, db: Database, wallets: Wallets, principal: Principal) -> None:
        self.db = db
        self.wallets = wallets
        self.principal = principal

    async def state(self) -> tuple[int, int, int, int]:
        """(balance, ledger sum, open reservations, key spent)."""
        async with self.db.session() as session:
            user = await session.get(User, self.principal.user_id)
            key = await session.get(ApiKey, self.principal.key_pk)
            assert user is not None and key is not None
            return (
                user.balance,
                await wq.ledger_sum(session, user.id),
                await wq.open_reservations(session, user.id),
                key.spent,
            )

    async def entries(self, request_id: str) -> dict[str, int]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(LedgerEntry).where(LedgerEntry.request_id == request_id)
            )
            return {row.kind: row.amount for row in rows}


@pytest.fixture
async def bench(database_url: str) -> AsyncIterator[Bench]:
    await migrate_async(database_url)
    db = Database(database_url)
    async with db.session() as session, session.begin():
        user = User(name="u", role="user", credit_limit=100)
        session.add(user)
        session.add(Price(model="m", output_per_m=PER_OUTPUT_TOKEN))
        await session.flush()
        key = ApiKey(public_id="k1", user_id=user.id, key_hash="h", prefix="sk-", last4="0000")
        session.add(key)
        await session.flush()
        principal = Principal(
            user_id=user.id,
            user_name="u",
            role="user",
            key_id="k1",
            allowed_models=None,
            key_pk=key.id,
        )
    wallets = Wallets(db, Prices(db, ttl=3600))
    await wallets.credit(principal.user_id, 1_000, "topup")
    try:
        yield Bench(db, wallets, principal)
    finally:
        await db.close()


async def test_a_request_that_outlives_its_reservation_is_still_charged(bench: Bench) -> None:
    hold = await bench.wallets.hold(bench.principal, "slow-1", "m", Usage(completion_tokens=300))
    assert await bench.wallets.sweep(older_than_seconds=0) == 1  # the TTL passed
    assert (await bench.state())[:3] == (1_000, 1_000, 0)  # released, nothing on hold
    charged = await bench.wallets.settle(hold, Usage(completion_tokens=250), "completed")
    assert charged == 250
    assert await bench.wallets.settle(hold, Usage(completion_tokens=250)) == 0  # once
    assert await bench.state() == (750, 750, 0, 250)
    entries = await bench.entries("slow-1")
    assert entries == {"reservation": -300, "release": 300, "settlement": -250}


async def test_a_request_without_output_limit_pays_what_it_used(bench: Bench) -> None:
    hold = await bench.wallets.hold(
        bench.principal, "long-1", "m", Usage(completion_tokens=100), capped=False
    )
    assert await bench.wallets.settle(hold, Usage(completion_tokens=600)) == 600
    assert await bench.state() == (400, 400, 0, 600)
    # More than the wallet and credit can cover: charged down to the credit limit, no further.
    hold = await bench.wallets.hold(
        bench.principal, "long-2", "m", Usage(completion_tokens=100), capped=False
    )
    assert await bench.wallets.settle(hold, Usage(completion_tokens=10**9)) == 500
    balance, ledger, holds, spent = await bench.state()
    assert (balance, ledger, holds) == (-100, -100, 0)
    assert spent == 1_100
    # A request that set max_tokens is never charged more than its hold.
    await bench.wallets.credit(bench.principal.user_id, 1_000, "topup")
    hold = await bench.wallets.hold(bench.principal, "capped-1", "m", Usage(completion_tokens=50))
    assert await bench.wallets.settle(hold, Usage(completion_tokens=10**9)) == 50


async def test_an_abandoned_hold_is_released(bench: Bench) -> None:
    task = asyncio.ensure_future(
        bench.wallets.hold(bench.principal, "gone-1", "m", Usage(completion_tokens=300))
    )
    await asyncio.sleep(0)  # handed to the database, then the client goes away
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):
        if (await bench.state())[2] == 0:
            break
        await asyncio.sleep(0.02)
    balance, ledger, holds, _ = await bench.state()
    assert (balance, ledger, holds) == (1_000, 1_000, 0)


async def test_a_database_that_does_not_answer_is_a_503_and_costs_nothing(bench: Bench) -> None:
    wallets = Wallets(bench.db, Prices(bench.db, ttl=3600), hold_timeout=0.3)
    other = Database(bench.db.url)
    try:
        async with other.session() as session, session.begin():
            # Another writer holds the wallet row (PostgreSQL) or the database (SQLite).
            await session.execute(
                update(User).where(User.id == bench.principal.user_id).values(balance=User.balance)
            )
            with pytest.raises(APIError) as raised:
                await wallets.hold(bench.principal, "stuck-1", "m", Usage(completion_tokens=5))
        assert raised.value.status == 503
        assert raised.value.headers["retry-after"]
        # The hold committed once the lock went away; nobody waits for it: it is released.
        for _ in range(100):
            if len(await bench.entries("stuck-1")) == 3:
                break
            await asyncio.sleep(0.05)
        assert await bench.entries("stuck-1") == {"reservation": -5, "release": 5, "settlement": 0}
        balance, ledger, holds, _ = await bench.state()
        assert (balance, ledger, holds) == (1_000, 1_000, 0)
    finally:
        await other.close()


async def test_a_lone_request_that_goes_away_mid_hold_leaves_nothing_held(bench: Bench) -> None:
    """A lone request awaits its hold itself (no queue, PostgreSQL); cancelled while the
    round trip is in flight, its hold is released whatever the database did with it."""
    for attempt in range(4):  # the cancel lands at a different point of the round trip
        request_id = f"lone-gone-{attempt}"
        task = asyncio.ensure_future(
            bench.wallets.hold(
                bench.principal, request_id, "m", Usage(completion_tokens=300), alone=True
            )
        )
        for _ in range(attempt + 1):  # started: handed to the database, or further
            await asyncio.sleep(0)
        task.cancel()
        try:
            held = await task
        except asyncio.CancelledError:
            pass
        else:  # answered before the cancel landed (SQLite commits at once): let it go
            await bench.wallets.release(held)
        # The database may apply the cut-short hold after the first sweep (the request
        # was sent): the second sweep, a second later, releases it.
        await asyncio.sleep(ABANDONED_AGAIN + 0.1)
        for _ in range(150):
            if await bench.state() == (1_000, 1_000, 0, 0):
                break
            await asyncio.sleep(0.02)
        assert await bench.state() == (1_000, 1_000, 0, 0), request_id
    # The next lone request is served normally on a fresh connection.
    hold = await bench.wallets.hold(
        bench.principal, "lone-after", "m", Usage(completion_tokens=10), alone=True
    )
    assert await bench.wallets.settle(hold, Usage(completion_tokens=7), alone=True) == 7
    assert await bench.state() == (993, 993, 0, 7)


async def test_a_lone_settlement_cut_short_is_charged_exactly_once(bench: Bench) -> None:
    for attempt in range(5):
        request_id = f"lone-settle-{attempt}"
        hold = await bench.wallets.hold(
            bench.principal, request_id, "m", Usage(completion_tokens=100), alone=True
        )
        task = asyncio.ensure_future(
            bench.wallets.settle(hold, Usage(completion_tokens=40), alone=True)
        )
        for _ in range(attempt + 1):  # started: handed to the database, or further
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for _ in range(150):
            if len(await bench.entries(request_id)) == 3:
                break
            await asyncio.sleep(0.02)
        assert await bench.entries(request_id) == {
            "reservation": -100,
            "release": 100,
            "settlement": -40,
        }
    assert await bench.state() == (800, 800, 0, 200)

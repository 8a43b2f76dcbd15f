"""Stateful property test: whatever sequence of top-ups, requests, failures, client
disconnects and refunds happens, the ledger invariants hold."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cong.accounts.service import Principal
from cong.billing.pricing import Prices, Usage
from cong.billing.wallets import Wallets
from cong.protocol.errors import APIError
from cong.storage import wallets as wq
from cong.storage.billing_tables import Price
from cong.storage.database import Database, migrate
from cong.storage.tables import User

PRICE = Price(
    model="m",
    input_per_m=2_000_000,
    cached_input_per_m=500_000,
    output_per_m=8_000_000,
    per_call=100,
)


class WalletMachine(RuleBasedStateMachine):
    @initialize(credit_limit=st.integers(0, 50_000), start=st.integers(0, 200_000))
    def setup(self, credit_limit: int, start: int) -> None:
        self.dir = tempfile.TemporaryDirectory()
        url = f"sqlite+aiosqlite:///{Path(self.dir.name) / 'w.db'}"
        migrate(url)
        self.loop = asyncio.new_event_loop()
        self.db = Database(url)
        self.wallets = Wallets(self.db, Prices(self.db, ttl=3600))
        self.credit_limit = credit_limit
        self.requests = 0

        async def setup() -> int:
            async with self.db.session() as session, session.begin():
                user = User(name="u", role="user", credit_limit=credit_limit)
                session.add(user)
                session.add(
                    Price(
                        **{
                            c: getattr(PRICE, c)
                            for c in (
                                "model",
                                "input_per_m",
                                "cached_input_per_m",
                                "output_per_m",
                                "per_call",
                                "per_image",
                            )
                        }
                    )
                )
                await session.flush()
                return user.id

        self.user_id = self.run(setup())
        self.principal = Principal(
            user_id=self.user_id, user_name="u", role="user", key_id="k", allowed_models=None
        )
        if start:
            self.run(self.wallets.credit(self.user_id, start, "topup"))

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        if hasattr(self, "loop"):
            self.run(self.db.close())
            self.loop.close()
            self.dir.cleanup()

    def _state(self) -> tuple[int, int, int]:
        async def read() -> tuple[int, int, int]:
            async with self.db.session() as session:
                user = await session.get(User, self.user_id)
                assert user is not None
                return (
                    user.balance,
                    await wq.ledger_sum(session, self.user_id),
                    await wq.open_reservations(session, self.user_id),
                )

        result: tuple[int, int, int] = self.run(read())
        return result

    def _hold(self, prompt: int, budget: int) -> Any:
        self.requests += 1
        worst = Usage(prompt_tokens=prompt, completion_tokens=budget)
        before = self._state()[0]
        try:
            return self.run(self.wallets.hold(self.principal, f"r{self.requests}", "m", worst))
        except APIError as error:
            assert error.status == 402
            cost = self.run(self.wallets.price_for("m"))
            from cong.billing.pricing import cost_of

            assert before - cost_of(cost, worst) < -self.credit_limit
            return None

    @rule(amount=st.integers(1, 100_000))
    def top_up(self, amount: int) -> None:
        self.run(self.wallets.credit(self.user_id, amount, "topup"))

    @rule(amount=st.integers(1, 50_000))
    def refund(self, amount: int) -> None:
        self.run(self.wallets.credit(self.user_id, amount, "refund", "goodwill"))

    @rule(
        prompt=st.integers(1, 4000),
        budget=st.integers(1, 4000),
        used=st.floats(0, 1.5),
        cached=st.integers(0, 4000),
    )
    def request(self, prompt: int, budget: int, used: float, cached: int) -> None:
        hold = self._hold(prompt, budget)
        if hold is not None:
            usage = Usage(
                prompt_tokens=prompt,
                cached_tokens=min(cached, prompt),
                completion_tokens=int(budget * used),
            )  # may exceed the budget
            charged = self.run(self.wallets.settle(hold, usage))
            assert 0 <= charged <= hold.amount
            assert self.run(self.wallets.settle(hold, usage)) == 0  # exactly once

    @rule(prompt=st.integers(1, 4000), budget=st.integers(1, 4000))
    def failure(self, prompt: int, budget: int) -> None:
        hold = self._hold(prompt, budget)
        if hold is not None:
            self.run(self.wallets.release(hold, "upstream_error"))

    @rule(prompt=st.integers(1, 4000), budget=st.integers(1, 4000), generated=st.integers(0, 4000))
    def disconnect(self, prompt: int, budget: int, generated: int) -> None:
        hold = self._hold(prompt, budget)
        if hold is not None:
            usage = Usage(prompt_tokens=prompt, completion_tokens=min(generated, budget))
            self.run(self.wallets.settle(hold, usage, "client_disconnected"))

    @rule()
    def crash_then_sweep(self) -> None:
        hold = self._hold(10, 10)
        if hold is not None:
            assert self._state()[2] == 1
            self.run(self.wallets.sweep(older_than_seconds=0))

    @invariant()
    def ledger_matches_balance(self) -> None:
        if not hasattr(self, "db"):
            return
        balance, ledger, open_holds = self._state()
        assert balance == ledger
        assert balance >= -self.credit_limit
        assert open_holds == 0


WalletMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
TestWallet = WalletMachine.TestCase

"""No one spends money they do not have, whatever the concurrency: a wallet funded for
exactly K requests, 50 requests at once (stream and non-stream, SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
import time

import httpx
import pytest

from tests.support.billing import fund, set_price, wallet_state
from tests.support.gateway import RunningGateway

PER_CALL = 1_000_000  # one currency unit per request


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("k", [0, 7, random.Random().randint(1, 49)])
def test_fifty_at_once_never_overspend(gateway: RunningGateway, stream: bool, k: int) -> None:
    set_price(gateway, "fake-model", per_call=PER_CALL)
    key = gateway.create_key("buyer")
    credit_limit = PER_CALL // 2  # half a request of credit: still only K fit
    fund(gateway, "buyer", k * PER_CALL, credit_limit=credit_limit)

    unexpected: list[str] = []

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=60)) as c:

            async def one() -> int:
                response = await c.post(
                    gateway.base_url + "/chat/completions",
                    headers={"authorization": f"Bearer {key}"},
                    json={
                        "model": "fake-model",
                        "stream": stream,
                        "max_tokens": 5,
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                )
                if response.status_code == 402:
                    assert response.headers["x-should-retry"] == "false"
                    assert response.json()["error"]["code"] == "insufficient_quota"
                if response.status_code not in (200, 402):
                    unexpected.append(response.text[:300])
                return response.status_code

            return await asyncio.gather(*(one() for _ in range(50)))

    statuses = asyncio.run(burst())
    assert set(statuses) <= {200, 402}, unexpected
    successes = statuses.count(200)
    assert successes <= k
    assert successes == k  # nothing else competes: every funded request gets through
    deadline = time.monotonic() + 10
    while (
        state := wallet_state(gateway, "buyer")
    ).open_reservations and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state.open_reservations == 0
    assert state.balance >= -state.credit_limit
    assert state.balance == state.ledger_sum
    assert state.balance == k * PER_CALL - successes * PER_CALL

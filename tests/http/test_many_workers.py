"""Three gateway processes (``CONG_WORKERS=3``) on one PostgreSQL and one Redis: wallets
and rate limits hold across them, and a key revoked or a price changed through one of
them takes effect on all within a second (their caches are told through Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cong.settings import Settings
from cong.storage.billing_tables import LedgerEntry
from cong.storage.database import migrate
from tests.fakes.openai_upstream import Recorder
from tests.support.billing import db_call, fund, wallet_state
from tests.support.gateway import ADMIN_TOKEN, RunningGateway, fresh_database
from tests.support.processes import ServeProcess
from tests.support.redis_server import RedisServer

PER_CALL = 1_000_000
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
HI = [{"role": "user", "content": "hi"}]


@dataclass
class Workers(RunningGateway):
    log: list[str] = field(default_factory=list)  # the server's output, for failures


@pytest.fixture(scope="module")
def workers(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_url: str,
    fake_openai: tuple[str, Recorder],
) -> Iterator[Workers]:
    try:
        redis = RedisServer()
        redis.start()
    except RuntimeError as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"redis-server unavailable ({error}); run scripts/ensure-redis.sh")
    tmp = tmp_path_factory.mktemp("workers")
    url = fresh_database("postgresql", tmp, postgres_url)
    migrate(url)
    config = tmp / "cong.toml"
    config.write_text(
        f'[[upstreams]]\nname = "fake"\nbase_url = "{fake_openai[0]}/v1"\n'
        'api_key = "sk-upstream-secret-value"\nmodels = ["fake-model"]\n'
    )
    env = {
        "CONG_CONFIG": str(config),
        "CONG_DATA_DIR": str(tmp / "data"),
        "CONG_DATABASE_URL": url,
        "CONG_REDIS_URL": redis.url,
        "CONG_ADMIN_TOKEN": ADMIN_TOKEN,
        "CONG_WORKERS": "3",
        "CONG_ACCESS_LOG": "false",
    }
    server = ServeProcess(tmp, env, "--no-model-server")
    try:
        server.wait_healthy()
        settings = Settings(data_dir=tmp / "data", database_url=url, admin_token=ADMIN_TOKEN)
        yield Workers(url=server.url, settings=settings, log=server.lines)
    finally:
        server.stop()
        redis.stop()


def admin(gw: RunningGateway, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, gw.url + path, headers=ADMIN, json=body, timeout=30)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def new_key(gw: RunningGateway, user: str, **settings: Any) -> tuple[str, str]:
    """A user and a key for them: (secret, public id)."""
    admin(gw, "POST", "/api/users", {"name": user})
    created = admin(gw, "POST", "/api/keys", {"user": user, **settings})
    return created["key"], created["id"]


def burst(gw: RunningGateway, key: str, count: int, **body: Any) -> list[httpx.Response]:
    """``count`` requests at once, each on its own connection (spread over the workers)."""

    async def run() -> list[httpx.Response]:
        async def one() -> httpx.Response:
            async with httpx.AsyncClient(timeout=60) as client:
                response = await client.post(
                    gw.base_url + "/chat/completions",
                    headers={"authorization": f"Bearer {key}"},
                    json={"model": "fake-model", "messages": HI, "max_tokens": 5, **body},
                )
                await response.aread()
                return response

        return await asyncio.gather(*(one() for _ in range(count)))

    return asyncio.run(run())


def settlement(gw: RunningGateway, request_id: str) -> int:
    query = select(LedgerEntry.amount).where(
        LedgerEntry.request_id == request_id, LedgerEntry.kind == "settlement"
    )
    return int(-db_call(gw, lambda s: s.scalar(query)))


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_fifty_at_once_across_workers(workers: RunningGateway, stream: bool) -> None:
    admin(workers, "PUT", "/api/prices/fake-model", {"per_call": "1", "input": "0", "output": "0"})
    user = f"buyer-{int(stream)}"
    key, _ = new_key(workers, user)
    k = 7
    fund(workers, user, k * PER_CALL, credit_limit=PER_CALL // 2)
    statuses = [r.status_code for r in burst(workers, key, 50, stream=stream)]
    assert set(statuses) <= {200, 402}
    assert statuses.count(200) == k
    deadline = time.monotonic() + 10
    while (state := wallet_state(workers, user)).open_reservations and time.monotonic() < deadline:
        time.sleep(0.1)
    assert state.open_reservations == 0
    assert state.balance == state.ledger_sum == 0


def test_rpm_holds_across_workers(workers: Workers) -> None:
    # Every worker connects to Redis first (a cold connection that misses the limiter's
    # 250 ms deadline makes that worker fall back to counting on its own, by design).
    warm, _ = new_key(workers, "warm-up", rpm=1_000)
    fund(workers, "warm-up", 1_000 * PER_CALL)
    assert {r.status_code for r in burst(workers, warm, 12)} == {200}
    key, _ = new_key(workers, "limited", rpm=10)
    fund(workers, "limited", 1_000 * PER_CALL)
    statuses = [r.status_code for r in burst(workers, key, 30)]
    assert statuses.count(200) == 10, "\n".join(workers.log[-30:])
    assert statuses.count(429) == 20


def test_a_revoked_key_stops_on_every_worker_within_a_second(workers: RunningGateway) -> None:
    key, public_id = new_key(workers, "leaver")
    fund(workers, "leaver", 1_000 * PER_CALL)
    assert {r.status_code for r in burst(workers, key, 12)} == {200}  # cached everywhere
    admin(workers, "POST", f"/api/keys/{public_id}/revoke")
    time.sleep(1.0)
    assert {r.status_code for r in burst(workers, key, 12)} == {401}


def test_a_price_change_reaches_every_worker_within_a_second(workers: RunningGateway) -> None:
    admin(workers, "PUT", "/api/prices/fake-model", {"per_call": "1", "input": "0", "output": "0"})
    key, _ = new_key(workers, "shopper")
    fund(workers, "shopper", 1_000 * PER_CALL)
    first = burst(workers, key, 12)  # every worker has the price cached
    assert {settlement(workers, r.headers["x-request-id"]) for r in first} == {PER_CALL}
    admin(workers, "PUT", "/api/prices/fake-model", {"per_call": "2"})
    time.sleep(1.0)
    later = burst(workers, key, 12)
    assert {settlement(workers, r.headers["x-request-id"]) for r in later} == {2 * PER_CALL}

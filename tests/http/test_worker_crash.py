"""A gateway process killed (``kill -9``) with holds and settlements in flight loses no
money: after the sweep the balance equals the ledger's sum and nothing is left on hold
(SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from cong.billing.pricing import Prices
from cong.billing.wallets import Wallets
from cong.settings import Settings
from cong.storage.database import Database, migrate
from cong.storage.tables import ApiKey
from tests.fakes.openai_upstream import Recorder
from tests.support.billing import db_call, wallet_state
from tests.support.gateway import ADMIN_TOKEN, RunningGateway, run_async
from tests.support.processes import ServeProcess

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def test_kill_9_with_money_in_flight(
    database_url: str, tmp_path: Path, fake_openai: tuple[str, Recorder]
) -> None:
    migrate(database_url)
    config = tmp_path / "cong.toml"
    config.write_text(
        f'[[upstreams]]\nname = "fake"\nbase_url = "{fake_openai[0]}/v1"\n'
        'api_key = "sk-upstream-secret-value"\nmodels = ["fake-model", "fake-slow"]\n'
    )
    env = {
        "CONG_CONFIG": str(config),
        "CONG_DATA_DIR": str(tmp_path / "data"),
        "CONG_DATABASE_URL": database_url,
        "CONG_ADMIN_TOKEN": ADMIN_TOKEN,
        "CONG_ACCESS_LOG": "false",
    }
    server = ServeProcess(tmp_path, env, "--no-model-server")
    try:
        server.wait_healthy()
        key = _set_up(server.url)
        stop = threading.Event()
        sent: list[int] = []
        load = threading.Thread(target=lambda: asyncio.run(_load(server.url, key, stop, sent)))
        load.start()
        deadline = time.monotonic() + 20
        while len(sent) < 150 and time.monotonic() < deadline:  # settlements under way
            time.sleep(0.05)
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        stop.set()
        load.join(timeout=30)
    finally:
        server.stop()
    assert len(sent) >= 150

    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    gw = RunningGateway(url="", settings=settings)
    before = wallet_state(gw, "crash")
    assert before.open_reservations > 0  # the slow streams' holds were left behind

    async def sweep() -> int:
        db = Database(database_url)
        try:
            return await Wallets(db, Prices(db)).sweep(older_than_seconds=0)
        finally:
            await db.close()

    assert run_async(sweep) == before.open_reservations
    after = wallet_state(gw, "crash")
    assert after.open_reservations == 0
    assert after.balance == after.ledger_sum
    reserved = db_call(gw, lambda s: s.scalar(select(ApiKey.reserved).where(ApiKey.name == "k")))
    assert reserved == 0


def _set_up(url: str) -> str:
    steps = [
        ("PUT", "/api/prices/fake-model", {"input": "1", "output": "2", "per_call": "0.001"}),
        ("PUT", "/api/prices/fake-slow", {"input": "1", "output": "2", "per_call": "0.001"}),
        ("POST", "/api/users", {"name": "crash"}),
        ("POST", "/api/wallets/crash/topup", {"amount": "1000"}),
        ("POST", "/api/keys", {"user": "crash", "name": "k"}),
    ]
    answer: dict[str, object] = {}
    for method, path, body in steps:
        response = httpx.request(method, url + path, headers=ADMIN, json=body, timeout=30)
        assert response.status_code < 300, response.text
        answer = response.json()
    return str(answer["key"])


async def _load(url: str, key: str, stop: threading.Event, sent: list[int]) -> None:
    """Slow streams (holds that stay open) and fast requests (holds and settlements one
    after the other) until the process dies."""
    headers = {"authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(base_url=url + "/v1", headers=headers, limits=limits) as client:

        async def slow() -> None:
            with contextlib.suppress(httpx.HTTPError):
                body = {"model": "fake-slow", "messages": [{"role": "user", "content": "x"}]}
                async with client.stream("POST", "/chat/completions", json=body | {"stream": True}):
                    await asyncio.sleep(30)

        async def fast(stream: bool) -> None:
            while not stop.is_set():
                body = {"model": "fake-model", "stream": stream, "max_tokens": 50}
                body["messages"] = [{"role": "user", "content": "hello"}]
                try:
                    response = await client.post("/chat/completions", json=body, timeout=5)
                    await response.aread()
                    sent.append(response.status_code)
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)

        tasks = [asyncio.create_task(slow()) for _ in range(8)]
        tasks += [asyncio.create_task(fast(i % 2 == 0)) for i in range(16)]
        await asyncio.to_thread(stop.wait)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

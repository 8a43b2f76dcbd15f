"""A real gateway app (in a uvicorn thread) on a fresh database, for the tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from cong.accounts.credentials import load_or_create_secret
from cong.accounts.service import Accounts
from cong.http.app import create_app
from cong.settings import Settings
from cong.storage.database import Database, migrate
from tests.support.servers import ServerThread

T = TypeVar("T")
ADMIN_TOKEN = "sk-testadmin0000" + "a" * 40


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()  # type: ignore[arg-type]


def fresh_database(kind: str, tmp_path: Path, postgres_url: str | None) -> str:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'cong.db'}"
    assert postgres_url is not None
    import asyncpg

    name = f"cong_test_{uuid.uuid4().hex[:12]}"
    dsn = postgres_url.replace("postgresql+asyncpg", "postgresql")

    async def create() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    run_async(create)
    return postgres_url.rsplit("/", 1)[0] + "/" + name


@dataclass
class RunningGateway:
    url: str
    settings: Settings
    admin_token: str = ADMIN_TOKEN

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def accounts(self, action: Callable[[Accounts], Awaitable[T]]) -> T:
        async def run() -> T:
            db = Database(self.settings.effective_database_url)
            secret = load_or_create_secret(self.settings.data_dir, None)
            try:
                return await action(Accounts(db, secret, cache_seconds=0))
            finally:
                await db.close()

        return run_async(run)

    def create_key(self, user: str, models: list[str] | None = None) -> str:
        async def make(accounts: Accounts) -> str:
            if user not in {u.name for u in await accounts.list_users()}:
                await accounts.create_user(user)
            new, _ = await accounts.create_key(user, models=models)
            return new.token

        return self.accounts(make)


def start_gateway(
    database_url: str, data_dir: Path, *, server: dict[str, Any] | None = None, **overrides: Any
) -> tuple[RunningGateway, ServerThread]:
    # Tests change prices and keys directly in the database: workers must not cache them.
    options: dict[str, Any] = {
        "access_log": False,
        "key_cache_seconds": 0,
        "billing": {"price_cache_seconds": 0},
        **overrides,
    }
    settings = Settings(
        data_dir=data_dir, database_url=database_url, admin_token=ADMIN_TOKEN, **options
    )
    migrate(database_url)
    gateway = RunningGateway(url="", settings=settings)
    gateway.accounts(lambda a: a.ensure_admin(ADMIN_TOKEN))
    thread = ServerThread(create_app(settings), **(server or {})).__enter__()
    gateway.url = thread.url
    return gateway, thread


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def api(gw: RunningGateway, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
    """One call to the gateway's management API (``/api/…``) with ``token``."""
    return httpx.request(method, gw.url + path, headers=auth(token), timeout=30, **kw)

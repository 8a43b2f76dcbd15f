"""Engine, sessions and migrations. SQLite (default) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from cong.storage.wallet_ops import WalletBackend, WalletOps
from cong.storage.wallet_pg import PostgresWallets
from cong.storage.wallet_sqlite import SqliteWallets

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MAX_ID_DIGITS = 18  # ids are 64-bit integers


def row_id(ref: str | int) -> int | None:
    """``ref`` as a row id when it is one (ASCII digits that fit 64 bits), else None:
    ``"²"`` is a digit to Python but not an id."""
    if isinstance(ref, int):
        return ref
    if ref.isascii() and ref.isdigit() and len(ref) <= MAX_ID_DIGITS:
        return int(ref)
    return None


class Database:
    """One async engine and its session factory, created at start-up and passed down."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url, echo=echo)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._wallet_ops: WalletOps | None = None

    def session(self) -> AsyncSession:
        return self.sessions()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def wallet_ops(self) -> WalletOps:
        """The group-commit queue for holds and settlements (created on first use)."""
        if self._wallet_ops is None:
            backend: WalletBackend
            if self.is_sqlite:
                path = make_url(self.url).database
                if not path or path == ":memory:":
                    raise ValueError("wallets need a SQLite file, not an in-memory database")
                backend = SqliteWallets(path)
            else:
                backend = PostgresWallets(self.url)
            self._wallet_ops = WalletOps(backend)
        return self._wallet_ops

    async def close(self) -> None:
        if self._wallet_ops is not None:
            await self._wallet_ops.close()
            self._wallet_ops = None
        await self.engine.dispose()


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        ensure_sqlite_file(parsed.database)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def ensure_sqlite_file(database: str | None) -> None:
    """Create the SQLite file (and its folder) readable by its owner only (0600) before
    SQLite does with the umask's mode; its -wal and -shm files take the same mode."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (blocking; call outside a running loop)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        ensure_sqlite_file(parsed.database)
    command.upgrade(alembic_config(url), revision)


async def migrate_async(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(migrate, url, revision)

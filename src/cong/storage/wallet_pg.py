"""Wallet operations on PostgreSQL: a batch of them is one pipelined ``fetchmany`` of the
``cong_wallet_op`` function (migration 0005) on a dedicated asyncpg connection: one round
trip and one implicit transaction per batch, the statement prepared once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from sqlalchemy.engine import make_url

from cong.storage.wallet_ops import NOTE_LENGTH, WalletOp

CALL = "SELECT cong_wallet_op($1, $2, $3, $4, $5, $6, $7, $8, $9)"
RETRIES = 3  # a deadlock or serialization failure rolls the batch back: run it again


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PostgresWallets:
    def __init__(self, url: str, connect_timeout: float = 10.0) -> None:
        self._dsn = asyncpg_dsn(url)
        self._timeout = connect_timeout
        self._conn: asyncpg.Connection | None = None

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._dsn, timeout=self._timeout)
        return self._conn

    async def run(self, ops: Sequence[WalletOp], now: datetime) -> list[int]:
        order = sorted(range(len(ops)), key=lambda i: ops[i].order)
        args = [
            (
                op.kind,
                op.request_id,
                op.user_id,
                op.key_pk,
                op.key_id,
                op.amount,
                op.period,
                op.note[:NOTE_LENGTH],
                now,
            )
            for op in (ops[i] for i in order)
        ]
        for attempt in range(RETRIES):
            conn = await self._connection()
            try:
                if len(args) == 1:  # no batch: a plain prepared call, lighter than fetchmany
                    rows = [(await conn.fetchval(CALL, *args[0]),)]
                else:
                    rows = await conn.fetchmany(CALL, args)
                break
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                if attempt == RETRIES - 1:
                    raise
                await asyncio.sleep(0.005 * (attempt + 1))
            except (OSError, asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError):
                await self._drop()
                raise
        results = [0] * len(ops)
        for row, i in zip(rows, order, strict=True):
            results[i] = int(row[0])
        return results

    direct = True  # a lone request awaits its round trip itself (WalletOps.run_alone)

    def run_now(self, ops: Sequence[WalletOp], now: datetime) -> list[int] | None:
        return None  # every transaction is a round trip

    def abandon(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:
                conn.terminate()

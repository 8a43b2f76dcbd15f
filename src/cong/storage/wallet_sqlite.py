"""Wallet operations on SQLite: a batch of them is one transaction, run start to finish
with statements prepared once (sqlite3's statement cache). A small batch runs right on
the event loop when the database is free at once (a few tens of microseconds: cheaper
than any hand-off); a large one, or one that would have to wait for the write lock, is
handed to a dedicated thread with its own connection (one hand-off per batch).

The logic is the same as the PostgreSQL function in migration 0005: every change is a
conditional update, undone in the same transaction when a later condition fails, so an
operation never fails for another's sake and a batch commits as a whole."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from cong.storage.wallet_ops import (
    ALREADY,
    DUPLICATE,
    HELD,
    HOLD,
    KEY_CAP,
    NO_FUNDS,
    NOTE_LENGTH,
    SETTLE,
    WalletOp,
)

ROLL_PERIOD = (
    "UPDATE api_keys SET period_start = ?, period_spent = 0 WHERE id = ? AND period IS NOT"
    " NULL AND (period_start IS NULL OR period_start != ?)"
)
HOLD_KEY = (
    "UPDATE api_keys SET reserved = reserved + ?1 WHERE id = ?2"
    " AND (spend_cap IS NULL OR spent + reserved + ?1 <= spend_cap)"
    " AND (period_cap IS NULL OR period_spent + reserved + ?1 <= period_cap)"
)
UNHOLD_KEY = "UPDATE api_keys SET reserved = reserved - ? WHERE id = ?"
DEBIT = "UPDATE users SET balance = balance - ?1 WHERE id = ?2 AND balance - ?1 + credit_limit >= 0"
CREDIT = "UPDATE users SET balance = balance + ? WHERE id = ?"
ADD_RESERVATION = (
    "INSERT INTO reservations (request_id, user_id, key_pk, amount, created_at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
DROP_RESERVATION = "DELETE FROM reservations WHERE request_id = ?"
TAKE_RESERVATION = "DELETE FROM reservations WHERE request_id = ? RETURNING amount, key_pk, user_id"
ADD_ENTRY = (
    "INSERT INTO ledger (user_id, kind, amount, request_id, key_id, note, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
SETTLE_KEY = (
    "UPDATE api_keys SET reserved = reserved - ?1, spent = spent + ?2,"
    " period_spent = period_spent + ?2 WHERE id = ?3"
)
HEADROOM = "SELECT balance + credit_limit FROM users WHERE id = ?"
SETTLED = "SELECT 1 FROM ledger WHERE request_id = ? AND kind = 'settlement'"


def sqlite_time(now: datetime) -> str:
    """Times as SQLAlchemy stores them in SQLite (naive UTC text)."""
    return now.replace(tzinfo=None).isoformat(" ", "microseconds")


INLINE_MAX = 2  # operations a batch may have to run on the event loop
# Pages read through a memory map: other connections' writes (the usage log) empty this
# connection's page cache before nearly every transaction, and a mapped page is re-read
# without a system call (address space, not memory: the kernel's page cache backs it).
MMAP = "mmap_size=268435456"


class SqliteWallets:
    def __init__(self, path: str) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="cong-wallets")
        self._conn: sqlite3.Connection | None = None  # the thread's
        self._inline: sqlite3.Connection | None = None  # the event loop's: never waits

    async def run(self, ops: Sequence[WalletOp], now: datetime) -> list[int]:
        done = self.run_now(ops, now)
        if done is not None:
            return done
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._run_threaded, ops, sqlite_time(now))

    direct = False  # the queue hands transactions to the wallet thread

    def abandon(self) -> None:
        return None  # never awaited directly

    def run_now(self, ops: Sequence[WalletOp], now: datetime) -> list[int] | None:
        """A small batch on the event loop's own connection, if the write lock is free."""
        if len(ops) > INLINE_MAX:
            return None
        if self._inline is None:
            # No waiting for locks, and no checkpoints (they may take milliseconds):
            # the other connections run those.
            self._inline = self._connect(busy_ms=0)
            self._inline.execute("PRAGMA wal_autocheckpoint=0")
        try:
            return self._run(self._inline, ops, sqlite_time(now))
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
        return None

    def _connect(self, busy_ms: int = 30_000) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, timeout=busy_ms / 1000, isolation_level=None, check_same_thread=False
        )
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", MMAP):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute(f"PRAGMA busy_timeout={busy_ms}")
        return conn

    def _run_threaded(self, ops: Sequence[WalletOp], now: str) -> list[int]:
        if self._conn is None:
            self._conn = self._connect()
        return self._run(self._conn, ops, now)

    def _run(self, conn: sqlite3.Connection, ops: Sequence[WalletOp], now: str) -> list[int]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            results = [self._apply(conn, op, now) for op in ops]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    def _apply(self, c: sqlite3.Connection, op: WalletOp, now: str) -> int:
        if op.kind == HOLD:
            return _hold(c, op, now)
        if op.kind == SETTLE:
            return _settle(c, op, now)
        return _sweep(c, op, now)

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        if self._inline is not None:
            self._inline.close()
            self._inline = None

        await asyncio.get_running_loop().run_in_executor(self._thread, close)
        self._thread.shutdown(wait=False)


def _hold(c: sqlite3.Connection, op: WalletOp, now: str) -> int:
    key, amount, user = op.key_pk, op.amount, op.user_id
    if key is not None:
        if op.period is not None:
            c.execute(ROLL_PERIOD, (op.period, key, op.period))
        if c.execute(HOLD_KEY, (amount, key)).rowcount != 1:
            return KEY_CAP
    if c.execute(DEBIT, (amount, user)).rowcount != 1:
        if key is not None:
            c.execute(UNHOLD_KEY, (amount, key))
        return NO_FUNDS
    if c.execute(ADD_RESERVATION, (op.request_id, user, key, amount, now)).rowcount == 1:
        entry = (user, "reservation", -amount, op.request_id, op.key_id, "", now)
        if c.execute(ADD_ENTRY, entry).rowcount == 1:
            return HELD
        c.execute(DROP_RESERVATION, (op.request_id,))
    # The request id was used before: undo.
    c.execute(CREDIT, (amount, user))
    if key is not None:
        c.execute(UNHOLD_KEY, (amount, key))
    return DUPLICATE


def _settle(c: sqlite3.Connection, op: WalletOp, now: str) -> int:
    note = op.note[:NOTE_LENGTH]
    taken = c.execute(TAKE_RESERVATION, (op.request_id,)).fetchall()
    if not taken:
        return _settle_released(c, op, note, now)
    held, key, user = taken[0]
    charge = op.amount
    if charge > held:  # no output limit was set: the excess as far as money allows
        charge = max(held, min(charge, held + c.execute(HEADROOM, (user,)).fetchone()[0]))
    if key is not None:
        c.execute(SETTLE_KEY, (held, charge, key))
    c.execute(CREDIT, (held - charge, user))
    c.execute(ADD_ENTRY, (user, "release", held, op.request_id, None, note, now))
    c.execute(ADD_ENTRY, (user, "settlement", -charge, op.request_id, None, note, now))
    return charge


def _settle_released(c: sqlite3.Connection, op: WalletOp, note: str, now: str) -> int:
    """No open reservation: settled already, or released by the sweeper because the
    request outlived the reservation TTL; then it is charged without the hold, as far as
    the balance and credit limit allow."""
    if c.execute(SETTLED, (op.request_id,)).fetchone() is not None:
        return ALREADY
    row = c.execute(HEADROOM, (op.user_id,)).fetchone()
    if row is None:
        return ALREADY
    charge = max(0, min(op.amount, row[0]))
    if op.key_pk is not None:
        c.execute(SETTLE_KEY, (0, charge, op.key_pk))
    c.execute(CREDIT, (-charge, op.user_id))
    c.execute(ADD_ENTRY, (op.user_id, "settlement", -charge, op.request_id, None, note, now))
    return charge


def _sweep(c: sqlite3.Connection, op: WalletOp, now: str) -> int:
    """Release a stale reservation (no settlement entry: a late settlement may follow)."""
    taken = c.execute(TAKE_RESERVATION, (op.request_id,)).fetchall()
    if not taken:
        return ALREADY
    held, key, user = taken[0]
    if key is not None:
        c.execute(UNHOLD_KEY, (held, key))
    c.execute(CREDIT, (held, user))
    c.execute(ADD_ENTRY, (user, "release", held, op.request_id, None, op.note[:NOTE_LENGTH], now))
    return held

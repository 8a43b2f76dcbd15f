"""Wallet operations on the request path (hold, settle, sweep), committed in groups.

Operations that arrive while a transaction is in flight wait for it and then share the
next one: one transaction (one hand-off to the SQLite thread, or one round trip to
PostgreSQL) carries every hold and settlement queued meanwhile, each with its own result.
Nothing waits on purpose, so a lone request commits at once; under load a transaction
carries as many operations as arrived during the previous one. Every operation is a set
of conditional updates that cannot fail for another operation's sake (see
``wallet_sqlite.py`` and the ``cong_wallet_op`` function in migration 0005).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

# Operation kinds (also the first argument of the PostgreSQL function).
HOLD, SETTLE, SWEEP = 1, 2, 3

# Results of a hold.
HELD, KEY_CAP, NO_FUNDS, DUPLICATE = 0, 1, 2, 3
# Result of a settlement or a sweep that found nothing to do (already settled).
ALREADY = -1

MAX_BATCH = 256
NOTE_LENGTH = 256


@dataclass(frozen=True, slots=True)
class WalletOp:
    """One operation. ``amount`` is what a hold reserves, or what a settlement charges
    (the charge may exceed the hold only when the request set no output limit: the
    excess is taken as far as the balance and credit limit allow). ``period`` is the
    key's current spend period (holds on keys with a period cap)."""

    kind: int
    request_id: str
    user_id: int = 0
    key_pk: int | None = None
    key_id: str | None = None
    amount: int = 0
    period: str | None = None
    note: str = ""

    @property
    def order(self) -> tuple[int, int]:
        # Rows are locked key first, then user; batches take them in one global order so
        # that two workers' transactions never wait on each other in a cycle.
        return (self.user_id, self.key_pk or 0)


class WalletStoreError(Exception):
    """The database did not apply a batch (down, locked, or an unexpected error)."""


class WalletBackend(Protocol):
    async def run(self, ops: Sequence[WalletOp], now: datetime) -> list[int]:
        """Apply ``ops`` in one transaction; one result per operation, in order."""

    def run_now(self, ops: Sequence[WalletOp], now: datetime) -> list[int] | None:
        """Apply ``ops`` in one transaction right away, without waiting for anything
        (no lock, no I/O round trip); None when that is not possible."""

    async def close(self) -> None: ...


class WalletOps:
    """The group-commit queue in front of a backend (one per process and database)."""

    def __init__(self, backend: WalletBackend) -> None:
        self._backend = backend
        self._queue: list[tuple[WalletOp, asyncio.Future[int]]] = []
        self._runner: asyncio.Task[None] | None = None

    def submit(self, op: WalletOp, *, alone: bool = False) -> asyncio.Future[int]:
        """Queue ``op``; the future resolves once its transaction has committed (or fails
        with the database's error). It is not cancelled with its caller: an operation
        handed over is applied whatever happens to the request. ``alone``: no other
        request is being metered, so the first transaction does not wait a loop turn
        for others to join it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._queue.append((op, future))
        if self._runner is None:
            self._runner = loop.create_task(self._drain(gather=not alone))
        return future

    def apply_now(self, op: WalletOp) -> int | None:
        """Apply ``op`` at once on the event loop when nothing is queued to share its
        transaction and the backend can commit without waiting (SQLite's free write
        lock); None otherwise (then ``submit`` it). Saves a lone request the queue's
        task, future and loop turns; its transaction is the same."""
        if self._queue or self._runner is not None:
            return None
        try:
            results = self._backend.run_now([op], datetime.now(UTC))
        except Exception as error:
            raise _store_error(error) from error
        return None if results is None else results[0]

    async def _drain(self, gather: bool = True) -> None:
        try:
            while self._queue:
                if gather:
                    await asyncio.sleep(0)  # let the requests ready in this turn queue theirs
                gather = True
                batch = self._queue[:MAX_BATCH]
                del self._queue[:MAX_BATCH]
                try:
                    results = await self._backend.run([op for op, _ in batch], datetime.now(UTC))
                except Exception as error:  # the whole transaction failed: so does each op
                    failure = _store_error(error)
                    failure.__cause__ = error
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(failure)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._runner = None

    async def close(self) -> None:
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
        await self._backend.close()


def _store_error(error: Exception) -> WalletStoreError:
    return WalletStoreError(f"{type(error).__name__}: {error}")

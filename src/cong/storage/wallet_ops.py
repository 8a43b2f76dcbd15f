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
import logging
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

log = logging.getLogger("cong.wallets")

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

    # True when ``run`` may be awaited by a request's own task (``WalletOps.run_alone``).
    direct: bool

    def abandon(self) -> None:
        """A ``run`` awaited directly was cancelled: drop what it was using (its outcome
        is unknown; the next ``run`` starts afresh)."""

    async def close(self) -> None: ...


class WalletOps:
    """The group-commit queue in front of a backend (one per process and database)."""

    def __init__(self, backend: WalletBackend) -> None:
        self._backend = backend
        self._queue: list[tuple[WalletOp, asyncio.Future[int]]] = []
        self._runner: asyncio.Task[None] | None = None
        self._direct = False  # a request's own task is applying an operation

    def submit(self, op: WalletOp, *, alone: bool = False) -> asyncio.Future[int]:
        """Queue ``op``; the future resolves once its transaction has committed (or fails
        with the database's error). It is not cancelled with its caller: an operation
        handed over is applied whatever happens to the request. ``alone``: no other
        request is being metered, so the first transaction does not wait a loop turn
        for others to join it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._queue.append((op, future))
        if self._runner is None and not self._direct:
            self._runner = loop.create_task(self._drain(gather=not alone))
        return future

    def apply_now(self, op: WalletOp) -> int | None:
        """Apply ``op`` at once on the event loop when nothing is queued to share its
        transaction and the backend can commit without waiting (SQLite's free write
        lock); None otherwise (then ``submit`` it). Saves a lone request the queue's
        task, future and loop turns; its transaction is the same."""
        if self._queue or self._runner is not None or self._direct:
            return None
        try:
            results = self._backend.run_now([op], datetime.now(UTC))
        except Exception as error:
            raise _store_error(error) from error
        return None if results is None else results[0]

    async def run_alone(
        self, op: WalletOp, on_cancel: WalletOp, again_after: float | None = None
    ) -> int | None:
        """Apply ``op`` in the caller's own task when nothing is queued or running and
        the backend is reached by a round trip (PostgreSQL): a lone request saves the
        queue's task, future, shield and loop turns; its transaction is the same. None
        when others are queued or the backend is not direct (then ``submit`` it).

        If the caller is cancelled meanwhile, the operation's outcome is unknown: the
        backend drops its connection and ``on_cancel`` is queued, an operation that puts
        things right whatever happened and may run any number of times (a sweep of the
        hold, or the settlement itself again: it runs at most once per request id).
        The database may still apply the cancelled operation after that (it was sent;
        the server notices the closed connection only when it answers): with
        ``again_after`` the compensation is queued once more that many seconds later,
        and the sweeper remains the last resort."""
        if self._queue or self._runner is not None or self._direct or not self._backend.direct:
            return None
        self._direct = True
        try:
            results = await self._backend.run([op], datetime.now(UTC))
        except asyncio.CancelledError:
            self._backend.abandon()
            self._direct = False
            self._compensate(on_cancel)
            if again_after is not None:
                asyncio.get_running_loop().call_later(again_after, self._compensate, on_cancel)
            raise
        except Exception as error:
            raise _store_error(error) from error
        finally:
            self._direct = False
            if self._queue and self._runner is None:
                self._runner = asyncio.get_running_loop().create_task(self._drain())
        return results[0]

    def _compensate(self, op: WalletOp) -> None:
        self.submit(op).add_done_callback(_log_compensation)

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


def _log_compensation(future: asyncio.Future[int]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning(
            "a cancelled request's wallet operation could not be put right (%s); "
            "the sweeper releases its hold",
            future.exception(),
        )


def _store_error(error: Exception) -> WalletStoreError:
    return WalletStoreError(f"{type(error).__name__}: {error}")

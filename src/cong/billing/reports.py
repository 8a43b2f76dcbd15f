"""Usage and ledger listings, wallet statements and the per-key usage view. Users see
their own; admins see everyone's. Another user's key or wallet is a 404, exactly as if
it did not exist. Listings are newest first and paginated with an opaque cursor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from cong.accounts.principal import Principal
from cong.accounts.views import KeyView, as_utc
from cong.billing.wallets import LEDGER_KINDS, Wallets, current_period
from cong.protocol.errors import invalid_request, not_found
from cong.storage import accounts as account_queries
from cong.storage.database import Database
from cong.storage.ledger import query_ledger
from cong.storage.tables import User
from cong.storage.usage import query_daily, query_usage
from cong.storage.wallets import open_reservations

T = TypeVar("T")
MAX_PAGE = 500


@dataclass(frozen=True)
class Filters:
    user: str | None = None
    key: str | None = None
    model: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    kind: str | None = None
    request_id: str | None = None
    endpoint: str | None = None
    failed: bool | None = None  # True: only errors (status >= 400), False: only successes


@dataclass(frozen=True)
class Page(Generic[T]):
    data: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class UsageView:
    id: int
    request_id: str
    created_at: datetime
    user_id: int
    user: str | None
    key_id: str
    group: str
    endpoint: str
    model: str
    served_model: str
    channel: str | None
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cost: int
    latency_ms: int
    ttft_ms: int | None
    status: int
    stream: bool
    end_reason: str
    estimated: bool


@dataclass(frozen=True)
class LedgerView:
    id: int
    created_at: datetime
    user_id: int
    user: str | None
    kind: str
    amount: int
    request_id: str | None
    key_id: str | None
    note: str


@dataclass(frozen=True)
class WalletView:
    user_id: int
    user: str
    balance: int
    credit_limit: int
    available: int
    open_reservations: int
    recent: list[LedgerView]


@dataclass(frozen=True)
class ModelTotals:
    model: str
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: int = 0


@dataclass(frozen=True)
class KeyUsage:
    """One key's view of itself: what it has used and what it may still spend."""

    key: KeyView
    since: str | None
    totals: ModelTotals
    by_model: list[ModelTotals]
    period_spent: int
    spend_remaining: int | None
    period_remaining: int | None
    wallet_available: int
    remaining: int
    limited_by: str
    expires_at: datetime | None = field(default=None)


class Reports:
    def __init__(self, db: Database, wallets: Wallets) -> None:
        self._db = db
        self._wallets = wallets

    async def usage(
        self, actor: Principal, filters: Filters, cursor: str | None = None, limit: int = 50
    ) -> Page[UsageView]:
        limit = _limit(limit)
        async with self._db.session() as session:
            user_id, key_id = await _scope(session, actor, filters)
            rows = list(
                await query_usage(
                    session,
                    user_id=user_id,
                    key_id=key_id,
                    model=filters.model,
                    since=filters.since,
                    until=filters.until,
                    before_id=_cursor(cursor),
                    limit=limit + 1,
                    request_id=filters.request_id,
                    endpoint=filters.endpoint,
                    failed=filters.failed,
                )
            )
            names = await account_queries.user_names(session, {r.user_id for r in rows})
        page = rows[:limit]
        data = [
            UsageView(
                id=r.id,
                request_id=r.request_id,
                created_at=as_utc(r.created_at),
                user_id=r.user_id,
                user=names.get(r.user_id),
                key_id=r.key_id,
                group=r.group,
                endpoint=r.endpoint,
                model=r.requested_model,
                served_model=r.served_model,
                channel=r.channel if actor.is_admin else None,
                prompt_tokens=r.prompt_tokens,
                cached_tokens=r.cached_tokens,
                completion_tokens=r.completion_tokens,
                reasoning_tokens=r.reasoning_tokens,
                cost=r.cost,
                latency_ms=r.latency_ms,
                ttft_ms=r.ttft_ms,
                status=r.status,
                stream=r.stream,
                end_reason=r.end_reason,
                estimated=r.estimated,
            )
            for r in page
        ]
        return Page(data, str(page[-1].id) if len(rows) > limit else None)

    async def ledger(
        self, actor: Principal, filters: Filters, cursor: str | None = None, limit: int = 50
    ) -> Page[LedgerView]:
        limit = _limit(limit)
        if filters.kind is not None and filters.kind not in LEDGER_KINDS:
            raise invalid_request(f"kind must be one of {', '.join(LEDGER_KINDS)}.", param="kind")
        async with self._db.session() as session:
            user_id, key_id = await _scope(session, actor, filters)
            rows = await _ledger(
                session,
                user_id=user_id,
                key_id=key_id,
                model=filters.model,
                kind=filters.kind,
                since=filters.since,
                until=filters.until,
                before_id=_cursor(cursor),
                limit=limit + 1,
            )
        page = rows[:limit]
        return Page(page, str(page[-1].id) if len(rows) > limit else None)

    async def wallet(self, actor: Principal | None, user: str, recent: int = 20) -> WalletView:
        """A user's balance, credit limit and latest ledger entries (``actor`` None: the
        operator's command line)."""
        async with self._db.session() as session:
            row = await _user(session, actor, user)
            entries = await _ledger(session, user_id=row.id, limit=_limit(recent))
            holds = await open_reservations(session, row.id)
        return WalletView(
            user_id=row.id,
            user=row.name,
            balance=row.balance,
            credit_limit=row.credit_limit,
            available=row.balance + row.credit_limit,
            open_reservations=holds,
            recent=entries,
        )

    async def credit(self, user: str, amount: int, kind: str, note: str = "") -> WalletView:
        """Top-up (positive) or adjustment (either sign) with its ledger entry."""
        if kind == "adjustment" and amount == 0:
            raise invalid_request("An adjustment must not be zero.", param="amount")
        async with self._db.session() as session:
            row = await _user(session, None, user)
        await self._wallets.credit(row.id, amount, kind, note[:256])
        return await self.wallet(None, row.name)

    async def key_usage(self, principal: Principal, since: str | None = None) -> KeyUsage:
        """The calling key's own usage (daily roll-ups since ``since``, a YYYY-MM-DD day),
        spend, caps and what it may still spend."""
        async with self._db.session() as session:
            found = await account_queries.get_key(session, principal.key_id)
            if found is None:
                raise not_found("This API key no longer exists.")
            key, user = found
            days = await query_daily(session, user_id=None, key_id=key.public_id, since=since)
        view = KeyView.of(key, user)
        per_model: dict[str, list[int]] = {}
        for day in days:
            totals = per_model.setdefault(day.model, [0, 0, 0, 0])
            for i, value in enumerate(
                (day.requests, day.prompt_tokens, day.completion_tokens, day.cost)
            ):
                totals[i] += value
        by_model = [ModelTotals(m, *t) for m, t in sorted(per_model.items())]
        overall = ModelTotals("*", *(sum(t[i] for t in per_model.values()) for i in range(4)))
        now_period = current_period(view.period, datetime.now(UTC))
        period_spent = view.period_spent if view.period_start == now_period else 0
        held = max(view.reserved, 0)
        remaining = {"wallet": max(user.balance + user.credit_limit, 0)}
        spend_left = period_left = None
        if view.spend_cap is not None:
            spend_left = remaining["spend_cap"] = max(view.spend_cap - view.spent - held, 0)
        if view.period_cap is not None:
            period_left = remaining["period_cap"] = max(view.period_cap - period_spent - held, 0)
        limited_by = min(remaining, key=lambda name: remaining[name])
        return KeyUsage(
            key=view,
            since=since,
            totals=overall,
            by_model=by_model,
            period_spent=period_spent,
            spend_remaining=spend_left,
            period_remaining=period_left,
            wallet_available=user.balance + user.credit_limit,
            remaining=remaining[limited_by],
            limited_by=limited_by,
            expires_at=view.expires_at,
        )


async def _scope(
    session: AsyncSession, actor: Principal, filters: Filters
) -> tuple[int | None, str | None]:
    """The user id and key id a listing is limited to."""
    user_id: int | None = None if actor.is_admin else actor.user_id
    if filters.user is not None:
        user_id = (await _user(session, actor, filters.user)).id
    if filters.key is not None:
        found = await account_queries.get_key(session, filters.key)
        if found is None or (not actor.is_admin and found[1].id != actor.user_id):
            raise not_found(f"No API key with id '{filters.key}'.")
    return user_id, filters.key


async def _user(session: AsyncSession, actor: Principal | None, ref: str) -> User:
    found = await account_queries.find_user(session, ref)
    if found is None or (actor is not None and not actor.is_admin and found[0].id != actor.user_id):
        raise not_found(f"No user '{ref}'.")
    return found[0]


async def _ledger(session: AsyncSession, **filters: Any) -> list[LedgerView]:
    rows = list(await query_ledger(session, **filters))
    names = await account_queries.user_names(session, {r.user_id for r in rows})
    return [
        LedgerView(
            id=r.id,
            created_at=as_utc(r.created_at),
            user_id=r.user_id,
            user=names.get(r.user_id),
            kind=r.kind,
            amount=r.amount,
            request_id=r.request_id,
            key_id=r.key_id,
            note=r.note,
        )
        for r in rows
    ]


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise invalid_request(f"limit must be between 1 and {MAX_PAGE}.", param="limit")
    return limit


def _cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    if not cursor.isdigit():
        raise invalid_request("cursor is not one this API returned.", param="cursor")
    return int(cursor)

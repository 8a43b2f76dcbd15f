"""Usage per day for charts (from the daily roll-ups): requests, tokens and cost, in
total and split by model or by key, one value per day with the empty days as zeros; and
the request log as CSV, read in pages so a large export never sits in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from cong.accounts.principal import Principal
from cong.billing.reports import Filters, Reports, UsageView
from cong.money import money
from cong.protocol.errors import invalid_request, not_found
from cong.storage import accounts as account_queries
from cong.storage.database import Database
from cong.storage.usage_series import daily_rows

MAX_DAYS = 366
MEASURES = ("requests", "prompt_tokens", "completion_tokens", "cost")
By = Literal["model", "key", "none"]


@dataclass
class Series:
    name: str
    values: dict[str, list[int]] = field(default_factory=dict)  # measure -> one per day

    def total(self, measure: str) -> int:
        return sum(self.values[measure])


@dataclass(frozen=True)
class DailyUsage:
    first: date
    last: date
    by: str
    days: list[str]
    totals: Series
    series: list[Series]


class UsageSeries:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def daily(
        self,
        actor: Principal,
        *,
        first: date | None,
        last: date | None,
        by: By = "model",
        user: str | None = None,
        key: str | None = None,
        model: str | None = None,
    ) -> DailyUsage:
        """Days ``first``..``last`` (UTC, both included; default: the last 30 days). A
        non-admin sees only their own usage (another user's name or key is a 404)."""
        last = last or datetime.now(UTC).date()
        first = first or last - timedelta(days=29)
        if first > last or (last - first).days >= MAX_DAYS:
            raise invalid_request(
                f"since must be before until, at most {MAX_DAYS} days apart.", param="since"
            )
        days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
        index = {day: i for i, day in enumerate(days)}
        async with self._db.session() as session:
            user_id = None if actor.is_admin else actor.user_id
            if user is not None:
                found = await account_queries.find_user(session, user)
                if found is None or (not actor.is_admin and found[0].id != actor.user_id):
                    raise not_found(f"No user '{user}'.")
                user_id = found[0].id
            if key is not None:
                owner = await account_queries.get_key(session, key)
                if owner is None or (not actor.is_admin and owner[1].id != actor.user_id):
                    raise not_found(f"No API key with id '{key}'.")
            rows = await daily_rows(
                session, first=days[0], last=days[-1], user_id=user_id, key_id=key, model=model
            )
        totals = _empty("total", len(days))
        split: dict[str, Series] = {}
        for row in rows:
            i = index[row.day]
            name = row.model if by == "model" else row.key_id
            series = split.get(name) or split.setdefault(name, _empty(name, len(days)))
            for measure in MEASURES:
                value = int(getattr(row, measure))
                totals.values[measure][i] += value
                if by != "none":
                    series.values[measure][i] += value
        ordered = sorted(
            split.values() if by != "none" else (),
            key=lambda s: (-s.total("cost"), -s.total("requests"), s.name),
        )
        return DailyUsage(first, last, by, days, totals, ordered)


def _empty(name: str, length: int) -> Series:
    return Series(name, {m: [0] * length for m in MEASURES})


CSV_COLUMNS = (
    "created_at",
    "request_id",
    "user",
    "key_id",
    "endpoint",
    "model",
    "served_model",
    "channel",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cost",
    "latency_ms",
    "ttft_ms",
    "status",
    "stream",
    "end_reason",
    "estimated",
)
PAGE = 500


async def usage_csv(
    reports: Reports, actor: Principal, filters: Filters, page: int = PAGE
) -> AsyncIterator[str]:
    """The request log as CSV text, newest first, one chunk per page of ``page`` rows
    (each page is one short query, so memory stays flat however long the log)."""
    yield _line(CSV_COLUMNS)
    cursor: str | None = None
    while True:
        result = await reports.usage(actor, filters, cursor, page)
        yield "".join(_line(_cells(row)) for row in result.data)
        cursor = result.next_cursor
        if cursor is None:
            return


def _cells(row: UsageView) -> tuple[object, ...]:
    view = replace(row, channel=row.channel or "")
    return (
        view.created_at.isoformat(),
        view.request_id,
        view.user or "",
        view.key_id,
        view.endpoint,
        view.model,
        view.served_model,
        view.channel,
        view.prompt_tokens,
        view.cached_tokens,
        view.completion_tokens,
        view.reasoning_tokens,
        money(view.cost),
        view.latency_ms,
        "" if view.ttft_ms is None else view.ttft_ms,
        view.status,
        "true" if view.stream else "false",
        view.end_reason,
        "true" if view.estimated else "false",
    )


def _line(cells: tuple[object, ...]) -> str:
    return ",".join(_cell(c) for c in cells) + "\r\n"


def _cell(value: object) -> str:
    """One CSV field; text a spreadsheet would run as a formula gets a leading quote."""
    text = str(value)
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    if any(c in text for c in ',"\r\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text

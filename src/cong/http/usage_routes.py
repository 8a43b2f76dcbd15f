"""``/api/usage/daily`` (per-day series for charts), ``/api/usage/export.csv`` (the
request log, streamed) and ``/api/usage/requests/{request_id}`` (one request)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import StreamingResponse

from cong.billing.reports import Filters
from cong.billing.usage_series import DailyUsage, Series, usage_csv
from cong.http.billing_models import UsageOut
from cong.http.billing_routes import UsageFilters
from cong.http.context import services_of
from cong.http.dependencies import Caller
from cong.money import money
from cong.protocol.errors import not_found

router = APIRouter(prefix="/api/usage", tags=["usage"])
routers = (router,)

Day = Annotated[date | None, Query(description="YYYY-MM-DD (UTC)")]


class Values(BaseModel):
    """One value per day of ``days``; the cost twice (micro-units, decimal strings)."""

    requests: list[int]
    prompt_tokens: list[int]
    completion_tokens: list[int]
    tokens: list[int]
    cost_micros: list[int]
    cost: list[str]

    @classmethod
    def of(cls, series: Series) -> Values:
        v = series.values
        return cls(
            requests=v["requests"],
            prompt_tokens=v["prompt_tokens"],
            completion_tokens=v["completion_tokens"],
            tokens=[p + c for p, c in zip(v["prompt_tokens"], v["completion_tokens"], strict=True)],
            cost_micros=v["cost"],
            cost=[money(c) for c in v["cost"]],
        )


class NamedValues(Values):
    name: str = Field(description="the model, or the key id")
    total_requests: int
    total_tokens: int
    total_cost_micros: int


class DailyOut(BaseModel):
    since: date
    until: date
    by: Literal["model", "key", "none"]
    days: list[str]
    totals: Values
    series: list[NamedValues] = Field(description="largest cost first")

    @classmethod
    def of(cls, usage: DailyUsage) -> DailyOut:
        series = []
        for s in usage.series:
            values = Values.of(s)
            series.append(
                NamedValues(
                    **values.model_dump(),
                    name=s.name,
                    total_requests=s.total("requests"),
                    total_tokens=sum(values.tokens),
                    total_cost_micros=s.total("cost"),
                )
            )
        return cls(
            since=usage.first,
            until=usage.last,
            by=usage.by,
            days=usage.days,
            totals=Values.of(usage.totals),
            series=series,
        )


@router.get(
    "/daily",
    summary="Requests, tokens and cost per day, in total and by model or key (charts)",
    description="From the daily roll-ups (UTC days). Yours, or anyone's for an admin.",
)
async def daily(
    request: Request,
    caller: Caller,
    since: Day = None,
    until: Day = None,
    by: Literal["model", "key", "none"] = "model",
    user: str | None = None,
    key: Annotated[str | None, Query(description="a key id")] = None,
    model: str | None = None,
) -> DailyOut:
    usage = await services_of(request).usage_series.daily(
        caller, first=since, last=until, by=by, user=user, key=key, model=model
    )
    return DailyOut.of(usage)


@router.get(
    "/export.csv",
    summary="The request log as CSV (same filters as /api/usage), streamed",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_csv(request: Request, caller: Caller, filters: UsageFilters) -> StreamingResponse:
    reports = services_of(request).reports
    await reports.usage(caller, filters, None, 1)  # a bad filter is a 4xx, not a broken file
    return StreamingResponse(
        usage_csv(reports, caller, filters),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="usage.csv"'},
    )


@router.get("/requests/{request_id}", summary="One request of the log by its x-request-id")
async def get_request(request: Request, request_id: str, caller: Caller) -> UsageOut:
    page = await services_of(request).reports.usage(caller, Filters(request_id=request_id), None, 1)
    if not page.data:
        raise not_found(f"No request '{request_id}' in your usage log.")
    return UsageOut.of(page.data[0])

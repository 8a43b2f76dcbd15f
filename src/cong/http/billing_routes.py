"""``/api/groups``, ``/api/wallets``, ``/api/codes``, ``/api/prices``, ``/api/usage`` and
``/api/ledger``. Admins manage; users read their own (another user's data is a 404)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from cong.billing.reports import Filters
from cong.http.billing_models import (
    PRICE_NAMES,
    AmountIn,
    CodeOut,
    CodePage,
    CodesIn,
    CodesOut,
    GroupIn,
    GroupOut,
    GroupPatch,
    LedgerOut,
    LedgerPage,
    PriceIn,
    PriceOut,
    RedeemIn,
    RedeemOut,
    UsageOut,
    UsagePage,
    WalletOut,
)
from cong.http.context import services_of
from cong.http.dependencies import Admin, Caller
from cong.money import to_micros, to_ppm
from cong.protocol.errors import invalid_request

groups = APIRouter(prefix="/api/groups", tags=["groups"])
wallets = APIRouter(prefix="/api/wallets", tags=["wallets"])
codes = APIRouter(prefix="/api/codes", tags=["redemption codes"])
prices = APIRouter(prefix="/api/prices", tags=["prices"])
reports = APIRouter(prefix="/api", tags=["usage"])
routers = (groups, wallets, codes, prices, reports)

Since = Annotated[datetime | None, Query(description="from this time (ISO 8601 or a date)")]
Until = Annotated[datetime | None, Query(description="before this time")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=500)]
RequestId = Annotated[str | None, Query(description="one request by its id")]
Endpoint = Annotated[str | None, Query(description="chat, completion, embedding or image")]
Status = Annotated[Literal["ok", "error"] | None, Query(description="error: status >= 400")]


@groups.get("", summary="List groups with their member counts (admin)")
async def list_groups(request: Request, _admin: Admin) -> list[GroupOut]:
    return [GroupOut.of(g) for g in await services_of(request).groups.list_all()]


@groups.post("", status_code=201, summary="Create a group (admin)")
async def create_group(request: Request, body: GroupIn, _admin: Admin) -> GroupOut:
    group = await services_of(request).groups.create(
        body.name,
        models=body.models,
        multiplier_ppm=to_ppm(body.multiplier, param="multiplier"),
        rpm=body.rpm,
        tpm=body.tpm,
    )
    return GroupOut.of(group)


@groups.get("/{ref}", summary="One group by name or id (admin)")
async def get_group(request: Request, ref: str, _admin: Admin) -> GroupOut:
    return GroupOut.of(await services_of(request).groups.get(ref))


@groups.patch("/{ref}", summary="Change a group (admin)")
async def update_group(request: Request, ref: str, body: GroupPatch, _admin: Admin) -> GroupOut:
    changes: dict[str, Any] = {k: getattr(body, k) for k in body.model_fields_set}
    if "multiplier" in changes:
        multiplier = changes.pop("multiplier")
        if multiplier is None:
            raise invalid_request("multiplier must be a number.", param="multiplier")
        changes["multiplier_ppm"] = to_ppm(multiplier, param="multiplier")
    if changes.get("name", "") is None:
        raise invalid_request("name must not be null.", param="name")
    return GroupOut.of(await services_of(request).groups.update(ref, **changes))


@groups.delete("/{ref}", status_code=204, summary="Delete a group; members move to default (admin)")
async def delete_group(request: Request, ref: str, _admin: Admin) -> Response:
    await services_of(request).groups.delete(ref)
    return Response(status_code=204)


@wallets.get("/{user}", summary="A wallet: balance, credit limit, recent ledger (own or admin)")
async def get_wallet(request: Request, user: str, caller: Caller, recent: Limit = 20) -> WalletOut:
    return WalletOut.of(await services_of(request).reports.wallet(caller, user, recent))


@wallets.post("/{user}/topup", summary="Add funds to a wallet (admin)")
async def topup(request: Request, user: str, body: AmountIn, _admin: Admin) -> WalletOut:
    amount = to_micros(body.amount, param="amount")
    if amount <= 0:
        raise invalid_request("A top-up must be positive.", param="amount")
    wallet = await services_of(request).reports.credit(user, amount, "topup", body.note)
    return WalletOut.of(wallet)


@wallets.post("/{user}/adjust", summary="Correct a wallet by a signed amount (admin)")
async def adjust(request: Request, user: str, body: AmountIn, _admin: Admin) -> WalletOut:
    amount = to_micros(body.amount, param="amount", allow_negative=True)
    wallet = await services_of(request).reports.credit(user, amount, "adjustment", body.note)
    return WalletOut.of(wallet)


@codes.post("", status_code=201, summary="Create a batch of codes, shown once (admin)")
async def create_codes(request: Request, body: CodesIn, _admin: Admin) -> CodesOut:
    expires_at = body.expires_at
    if body.expires_in_days is not None:
        if expires_at is not None:
            raise invalid_request(
                "Give expires_at or expires_in_days, not both.", param="expires_in_days"
            )
        expires_at = datetime.now(UTC) + timedelta(days=body.expires_in_days)
    batch = await services_of(request).codes.create(
        to_micros(body.amount, param="amount"),
        body.count,
        batch=body.batch,
        expires_at=expires_at,
    )
    return CodesOut.of(batch)


@codes.get("", summary="List codes, masked, newest first (admin)")
async def list_codes(
    request: Request,
    _admin: Admin,
    batch: str | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> CodePage:
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) < 19):
        raise invalid_request("cursor is not one this API returned.", param="cursor")
    views = await services_of(request).codes.list_codes(
        batch=batch, before_id=int(cursor) if cursor else None, limit=limit + 1
    )
    page = views[:limit]
    more = len(views) > limit
    return CodePage(
        data=[CodeOut.of(c) for c in page], next_cursor=str(page[-1].id) if more else None
    )


@codes.post("/redeem", summary="Redeem a code into your wallet (once per code)")
async def redeem(request: Request, body: RedeemIn, caller: Caller) -> RedeemOut:
    return RedeemOut.of(await services_of(request).codes.redeem(caller.user_id, body.code))


@prices.get("", summary="Prices per model (any key)")
async def list_prices(request: Request, _caller: Caller) -> list[PriceOut]:
    return [PriceOut.of(p) for p in await services_of(request).prices.list_all()]


@prices.get("/{model:path}", summary="One model's price (any key)")
async def get_price(request: Request, model: str, _caller: Caller) -> PriceOut:
    return PriceOut.of(await services_of(request).prices.get(model))


@prices.put("/{model:path}", summary="Set a model's prices, per 1M tokens (admin)")
async def set_price(request: Request, model: str, body: PriceIn, _admin: Admin) -> PriceOut:
    fields = {
        PRICE_NAMES[name]: to_micros(getattr(body, name), param=name)
        for name in body.model_fields_set
        if getattr(body, name) is not None
    }
    return PriceOut.of(await services_of(request).prices.set(model, **fields))


@prices.delete("/{model:path}", status_code=204, summary="Remove a model's price (admin)")
async def delete_price(request: Request, model: str, _admin: Admin) -> Response:
    await services_of(request).prices.delete(model)
    return Response(status_code=204)


def usage_filters(
    user: str | None = None,
    key: Annotated[str | None, Query(description="a key id")] = None,
    model: str | None = None,
    since: Since = None,
    until: Until = None,
    request_id: RequestId = None,
    endpoint: Endpoint = None,
    status: Status = None,
) -> Filters:
    """The request log's filters, shared by the listing and the CSV export."""
    return Filters(
        user=user,
        key=key,
        model=model,
        since=_utc(since),
        until=_utc(until),
        request_id=request_id,
        endpoint=endpoint,
        failed=None if status is None else status == "error",
    )


UsageFilters = Annotated[Filters, Depends(usage_filters)]


@reports.get("/usage", summary="Request log: your own, or everyone's for an admin")
async def usage(
    request: Request,
    caller: Caller,
    filters: UsageFilters,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> UsagePage:
    page = await services_of(request).reports.usage(caller, filters, cursor, limit)
    return UsagePage(data=[UsageOut.of(r) for r in page.data], next_cursor=page.next_cursor)


@reports.get("/ledger", summary="Wallet ledger: your own, or everyone's for an admin")
async def ledger(
    request: Request,
    caller: Caller,
    user: str | None = None,
    key: Annotated[str | None, Query(description="a key id")] = None,
    model: str | None = None,
    kind: str | None = None,
    since: Since = None,
    until: Until = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> LedgerPage:
    filters = Filters(
        user=user, key=key, model=model, kind=kind, since=_utc(since), until=_utc(until)
    )
    page = await services_of(request).reports.ledger(caller, filters, cursor, limit)
    return LedgerPage(data=[LedgerOut.of(e) for e in page.data], next_cursor=page.next_cursor)


def _utc(moment: datetime | None) -> datetime | None:
    """Times without a zone are UTC, like every stored time."""
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)

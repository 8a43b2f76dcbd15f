"""Prices as admins manage them: per model, micro-units per 1M input, cached-input and
output tokens, per call and per image. A model with a row of zeros is free."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from cong.accounts.views import as_utc
from cong.billing.pricing import Prices
from cong.money import MAX_AMOUNT
from cong.protocol.errors import invalid_request, not_found
from cong.storage import prices as queries
from cong.storage.billing_tables import Price
from cong.storage.database import Database

PRICE_FIELDS = ("input_per_m", "cached_input_per_m", "output_per_m", "per_call", "per_image")


@dataclass(frozen=True)
class PriceView:
    model: str
    input_per_m: int
    cached_input_per_m: int
    output_per_m: int
    per_call: int
    per_image: int
    updated_at: datetime | None


class PriceBook:
    """Changes refresh ``prices`` (this worker's cache used for billing) at once and are
    announced to the other workers (``on_change``); without an announcement they follow
    within their cache lifetime."""

    def __init__(
        self,
        db: Database,
        prices: Prices,
        on_change: Callable[[], None] | None = None,
        aliases: Callable[[], Mapping[str, str]] = dict,
    ) -> None:
        self._db = db
        self._prices = prices
        self._on_change = on_change
        self._aliases = aliases  # alias -> the model it names (prices are not set on aliases)

    async def _changed(self) -> None:
        await self._prices.refresh()
        if self._on_change is not None:
            self._on_change()

    async def list_all(self) -> list[PriceView]:
        async with self._db.session() as session:
            return [_view(row) for row in await queries.load_prices(session)]

    async def get(self, model: str) -> PriceView:
        for view in await self.list_all():
            if view.model == model:
                return view
        raise not_found(f"No price for the model '{model}'.")

    async def set(self, model: str, **fields: int) -> PriceView:
        """Set some of a model's prices; fields left out keep their value (a new model
        starts at zero). Cached input follows the input price (no discount) until it is
        set apart: a new price without ``cached_input_per_m``, or an input price changed
        while both were equal, moves it too."""
        model = model.strip()
        if not 1 <= len(model) <= 128:
            raise invalid_request("A model id has 1 to 128 characters.", param="model")
        target = self._aliases().get(model)
        if target is not None:
            raise invalid_request(
                f"'{model}' is an alias of '{target}': a price is set on the model it names "
                f"(PUT /api/prices/{target}).",
                param="model",
            )
        for name, value in fields.items():
            if name not in PRICE_FIELDS:
                raise invalid_request(f"Unknown price field '{name}'.", param=name)
            if not 0 <= value <= MAX_AMOUNT:
                raise invalid_request(f"{name} must be between 0 and {MAX_AMOUNT}.", param=name)
        async with self._db.session() as session, session.begin():
            if "input_per_m" in fields and "cached_input_per_m" not in fields:
                current = await queries.price_of(session, model)
                if current is None or current.cached_input_per_m == current.input_per_m:
                    fields["cached_input_per_m"] = fields["input_per_m"]
            row = await queries.upsert_price(session, model, **fields)
            view = _view(row)
        await self._changed()
        return view

    async def delete(self, model: str) -> None:
        async with self._db.session() as session, session.begin():
            if not await queries.delete_price(session, model):
                raise not_found(f"No price for the model '{model}'.")
        await self._changed()


def _view(row: Price) -> PriceView:
    return PriceView(
        model=row.model,
        input_per_m=row.input_per_m or 0,
        cached_input_per_m=row.cached_input_per_m or 0,
        output_per_m=row.output_per_m or 0,
        per_call=row.per_call or 0,
        per_image=row.per_image or 0,
        updated_at=as_utc(row.updated_at),
    )

"""Prices and cost arithmetic, in integer micro-units (no floating point on money)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from cong.single_flight import SingleFlight
from cong.storage.billing_tables import PPM, Price
from cong.storage.database import Database
from cong.storage.prices import load_prices

MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class PriceSheet:
    input_per_m: int = 0
    cached_input_per_m: int = 0
    output_per_m: int = 0
    per_call: int = 0
    per_image: int = 0

    @property
    def is_free(self) -> bool:
        return not (
            self.input_per_m
            or self.cached_input_per_m
            or self.output_per_m
            or self.per_call
            or self.per_image
        )

    @classmethod
    def of(cls, row: Price) -> PriceSheet:
        return cls(
            row.input_per_m, row.cached_input_per_m, row.output_per_m, row.per_call, row.per_image
        )


FREE = PriceSheet()


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    images: int = 0


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def cost_of(price: PriceSheet, usage: Usage, multiplier_ppm: int = PPM) -> int:
    """The charge for ``usage``: token parts are per 1M, rounded up to a micro-unit, and
    the group multiplier (parts per million) applies to the whole."""
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    per_token = (
        (usage.prompt_tokens - cached) * price.input_per_m
        + cached * price.cached_input_per_m
        + usage.completion_tokens * price.output_per_m
    )
    base = _ceil_div(per_token, MILLION) + price.per_call + usage.images * price.per_image
    return _ceil_div(base * multiplier_ppm, PPM)


class Prices:
    """The prices table, cached per worker and re-read every ``ttl`` seconds."""

    def __init__(self, db: Database, ttl: float = 5.0) -> None:
        self._db = db
        self._ttl = ttl
        self._sheets: dict[str, PriceSheet] = {}
        self._loaded = 0.0
        self._reads: SingleFlight[None, None] = SingleFlight()

    async def get(self, model: str) -> PriceSheet | None:
        if time.monotonic() - self._loaded >= self._ttl or not self._loaded:
            await self._reads.run(None, self.refresh)
        return self._sheets.get(model)

    def invalidate(self) -> None:
        """Another process changed the prices: re-read them on the next request."""
        self._loaded = 0.0

    async def refresh(self) -> None:
        async with self._db.session() as session:
            rows = await load_prices(session)
        self._sheets = {row.model: PriceSheet.of(row) for row in rows}
        self._loaded = time.monotonic()

"""Money as people write it (decimal currency units) and as it is stored (integer
micro-units). Conversions are exact: decimal.Decimal, never float arithmetic."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from cong.protocol.errors import invalid_request

PPM = 1_000_000  # multipliers are stored in parts per million (1.0 == 1_000_000)
MICROS = Decimal(1_000_000)
# Far below 2**63 micro-units, so sums of many amounts still fit a BIGINT.
MAX_AMOUNT = 10**15


def to_micros(value: Decimal | int | str, *, param: str, allow_negative: bool = False) -> int:
    """``'2.5'`` -> ``2_500_000``. More than six decimal places, non-numbers, infinities
    and (unless allowed) negative amounts are a 400 naming ``param``."""
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        micros = amount * MICROS
        if not micros.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise invalid_request(f"{param} must be a decimal number.", param=param) from None
    if micros != micros.to_integral_value():
        raise invalid_request(
            f"{param} has more than 6 decimal places (the smallest unit is 0.000001).",
            param=param,
        )
    if not allow_negative and micros < 0:
        raise invalid_request(f"{param} must not be negative.", param=param)
    if abs(micros) > MAX_AMOUNT:
        raise invalid_request(f"{param} is too large.", param=param)
    return int(micros)


def optional_micros(value: Decimal | int | str | None, *, param: str) -> int | None:
    return None if value is None else to_micros(value, param=param)


def money(amount: int) -> str:
    """Micro-units as a decimal string: ``1_500_000`` -> ``'1.500000'``."""
    sign = "-" if amount < 0 else ""
    whole, micro = divmod(abs(amount), 1_000_000)
    return f"{sign}{whole}.{micro:06d}"


def optional_money(amount: int | None) -> str | None:
    return None if amount is None else money(amount)


def to_ppm(value: Decimal | int | str, *, param: str) -> int:
    """A multiplier (``'1.5'``) in parts per million; at most six decimals, not negative."""
    return to_micros(value, param=param)  # PPM == 1_000_000, the micro-unit scale


def ppm_text(ppm: int) -> str:
    """Parts per million as a short decimal: ``1_500_000`` -> ``'1.5'``."""
    text = format(Decimal(ppm) / Decimal(PPM), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text

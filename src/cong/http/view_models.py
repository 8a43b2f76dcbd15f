"""Response models built from the services' view dataclasses."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Self

from pydantic import BaseModel

from cong.money import money


class ViewModel(BaseModel):
    @classmethod
    def from_view(cls, view: Any, *, amounts: tuple[str, ...] = (), **extra: Any) -> Self:
        """Copy the view's same-named fields; each name in ``amounts`` (micro-units) is
        shown twice, as ``<name>_micros`` and as a decimal string ``<name>``; ``extra``
        sets or overrides fields (before the amounts are shown)."""
        data = {f.name: getattr(view, f.name) for f in fields(view)}
        data.update(extra)
        for name in amounts:
            value = data.get(name)
            data[f"{name}_micros"] = value
            data[name] = None if value is None else money(value)
        return cls.model_validate({k: v for k, v in data.items() if k in cls.model_fields})

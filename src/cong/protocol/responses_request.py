"""What the gateway reads of a Responses request passed through natively; the rest is
the upstream's to check (it is sent on as it came)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class ResponsesRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: Annotated[str, Field(min_length=1)]
    input: Any = None
    stream: bool | None = None

    @property
    def wants_usage_in_stream(self) -> bool:
        return True  # the gateway reads the native events' usage

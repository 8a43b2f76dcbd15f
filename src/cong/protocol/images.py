"""``POST /v1/images/generations`` request validation."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class ImageRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    model: Annotated[str, Field(min_length=1)]
    prompt: Annotated[str, Field(min_length=1, max_length=32000)]
    n: Annotated[int, Field(ge=1, le=10)] | None = None
    size: str | None = None
    quality: str | None = None
    style: Literal["vivid", "natural"] | None = None
    response_format: Literal["url", "b64_json"] | None = None
    output_format: Literal["png", "jpeg", "webp"] | None = None
    background: Literal["transparent", "opaque", "auto"] | None = None
    user: str | None = None

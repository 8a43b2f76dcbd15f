"""``POST /v1/completions`` (legacy) and ``POST /v1/embeddings`` request validation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cong.protocol.chat import StopList, StreamOptions

NonEmptyTokens = Annotated[list[int], Field(min_length=1)]
NonEmptyText = Annotated[str, Field(min_length=1)]
MAX_INPUTS = 2048  # texts (or token arrays) per embeddings request, as OpenAI


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    model: Annotated[str, Field(min_length=1)]
    prompt: str | list[str] | NonEmptyTokens | list[NonEmptyTokens] | None = "<|endoftext|>"
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    suffix: str | None = None
    echo: bool | None = None
    best_of: Annotated[int, Field(ge=0, le=20)] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    n: Annotated[int, Field(ge=1, le=128)] | None = None
    stop: str | StopList | None = None
    max_tokens: Annotated[int, Field(ge=0)] | None = None
    presence_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
    frequency_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
    logit_bias: dict[str, Annotated[int, Field(ge=-100, le=100)]] | None = None
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None
    seed: int | None = None
    user: str | None = None

    @model_validator(mode="after")
    def _check_stream_options(self) -> CompletionRequest:
        if self.stream_options is not None and not self.stream:
            raise ValueError(
                "stream_options: The 'stream_options' parameter is only allowed when "
                "'stream' is enabled."
            )
        if self.best_of is not None and self.best_of < (self.n or 1):
            raise ValueError(
                f"best_of: best_of ({self.best_of}) must be greater than or equal to n "
                f"({self.n or 1})."
            )
        return self

    @property
    def wants_usage_in_stream(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    model: Annotated[str, Field(min_length=1)]
    input: (
        Annotated[str, Field(min_length=1)]
        | Annotated[list[NonEmptyText], Field(min_length=1, max_length=MAX_INPUTS)]
        | NonEmptyTokens
        | Annotated[list[NonEmptyTokens], Field(min_length=1, max_length=MAX_INPUTS)]
    )
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Annotated[int, Field(ge=1)] | None = None
    user: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _count_inputs(cls, data: Any) -> Any:
        """Too many inputs, said as such (not as the first input's type against the
        token-array branch of the union)."""
        inputs = data.get("input") if isinstance(data, dict) else None
        if isinstance(inputs, list) and len(inputs) > MAX_INPUTS:
            raise ValueError(
                f"input: at most {MAX_INPUTS} inputs per request, got {len(inputs)}; "
                "send the rest in another request."
            )
        return data

"""``POST /v1/chat/completions`` request validation, with OpenAI's ranges and messages."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cong.protocol.messages import Message, Tool, ToolChoice, _Open

Penalty = Annotated[float, Field(ge=-2.0, le=2.0)]
StopList = Annotated[list[str], Field(min_length=1, max_length=4)]


class StreamOptions(_Open):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class JSONSchemaFormat(_Open):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class TextFormat(_Open):
    type: Literal["text"]


class JSONObjectFormat(_Open):
    type: Literal["json_object"]


class JSONSchemaResponseFormat(_Open):
    type: Literal["json_schema"]
    json_schema: JSONSchemaFormat


ResponseFormat = Annotated[
    TextFormat | JSONObjectFormat | JSONSchemaResponseFormat, Field(discriminator="type")
]


class ChatCompletionRequest(BaseModel):
    """Every field of the OpenAI spec; unknown fields are kept (``model_extra``)."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: Annotated[str, Field(min_length=1)]
    messages: Annotated[list[Message], Field(min_length=1)]
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    top_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    n: Annotated[int, Field(ge=1, le=128)] | None = None
    stop: str | StopList | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, Annotated[int, Field(ge=-100, le=100)]] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    seed: int | None = None
    user: str | None = None
    safety_identifier: Annotated[str, Field(max_length=64)] | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: Literal["in_memory", "24h"] | None = None
    prompt_cache_options: dict[str, Any] | None = None
    response_format: ResponseFormat | None = None
    tools: Annotated[list[Tool], Field(max_length=128)] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    functions: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=128)] | None = None
    function_call: Literal["none", "auto"] | dict[str, Any] | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = (
        None
    )
    verbosity: Literal["low", "medium", "high"] | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    store: bool | None = None
    metadata: dict[str, Annotated[str, Field(max_length=512)]] | None = None
    web_search_options: dict[str, Any] | None = None
    moderation: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check_combinations(self) -> ChatCompletionRequest:
        if self.top_logprobs is not None and self.top_logprobs > 0 and not self.logprobs:
            raise ValueError("top_logprobs: `logprobs` must be set to true to use top_logprobs")
        if self.stream_options is not None and not self.stream:
            raise ValueError(
                "stream_options: The 'stream_options' parameter is only allowed when "
                "'stream' is enabled."
            )
        if self.tool_choice not in (None, "none", "auto") and not self.tools:
            raise ValueError(
                "tool_choice: 'tool_choice' is only allowed when 'tools' are specified."
            )
        return self

    @property
    def output_budget(self) -> int | None:
        """The requested output token cap (``max_completion_tokens`` wins)."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def wants_usage_in_stream(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

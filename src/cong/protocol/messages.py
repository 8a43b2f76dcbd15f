"""Chat message and tool shapes of the OpenAI Chat Completions request."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    """Known fields are checked; unknown ones are kept and passed through."""

    model_config = ConfigDict(extra="allow", strict=True)


class TextPart(_Open):
    type: Literal["text"]
    text: str


class ImageURL(_Open):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Open):
    type: Literal["image_url"]
    image_url: ImageURL


class InputAudio(_Open):
    data: str
    format: str


class AudioPart(_Open):
    type: Literal["input_audio"]
    input_audio: InputAudio


class FilePart(_Open):
    type: Literal["file"]
    file: dict[str, Any]


class RefusalPart(_Open):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[
    TextPart | ImagePart | AudioPart | FilePart | RefusalPart, Field(discriminator="type")
]


class FunctionCall(_Open):
    name: str
    arguments: str


class ToolCall(_Open):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(_Open):
    role: Literal["system"]
    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(_Open):
    role: Literal["developer"]
    content: str | list[TextPart]
    name: str | None = None


class UserMessage(_Open):
    role: Literal["user"]
    content: str | list[ContentPart]
    name: str | None = None


class AssistantMessage(_Open):
    role: Literal["assistant"]
    content: str | list[TextPart | RefusalPart] | None = None
    name: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    reasoning_content: str | None = None


class ToolMessage(_Open):
    role: Literal["tool"]
    content: str | list[TextPart]
    tool_call_id: str


class FunctionMessage(_Open):
    role: Literal["function"]
    content: str | None
    name: str


Message = Annotated[
    SystemMessage
    | DeveloperMessage
    | UserMessage
    | AssistantMessage
    | ToolMessage
    | FunctionMessage,
    Field(discriminator="role"),
]


class FunctionDefinition(_Open):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(_Open):
    type: Literal["function"]
    function: FunctionDefinition


class CustomTool(_Open):
    type: Literal["custom"]
    custom: dict[str, Any]


Tool = Annotated[FunctionTool | CustomTool, Field(discriminator="type")]


class NamedFunction(_Open):
    name: str


class NamedToolChoice(_Open):
    type: Literal["function"]
    function: NamedFunction


class AllowedToolsChoice(_Open):
    type: Literal["allowed_tools"]
    allowed_tools: dict[str, Any]


class CustomToolChoice(_Open):
    type: Literal["custom"]
    custom: dict[str, Any]


ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[
        NamedToolChoice | AllowedToolsChoice | CustomToolChoice, Field(discriminator="type")
    ]
)


def has_image(messages: list[Any]) -> bool:
    """True when any message carries an image part (validated messages)."""
    for message in messages:
        content = getattr(message, "content", None)
        if isinstance(content, list) and any(isinstance(part, ImagePart) for part in content):
            return True
    return False

"""OpenAI chat messages → the model's own chat template → prompt text.

Roles map onto what any chat template understands: developer is a system message,
tool (and legacy function) results become a user turn wrapped in <tool_response>,
and an assistant's earlier tool calls are written back in the <tool_call> form the
model was told to use.
"""

from __future__ import annotations

from typing import Any

import orjson
from jinja2 import TemplateError
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from cong.modelserver.tool_plan import ToolPlan
from cong.protocol.errors import invalid_request
from cong.protocol.messages import (
    AssistantMessage,
    AudioPart,
    DeveloperMessage,
    FilePart,
    FunctionMessage,
    ImagePart,
    RefusalPart,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)

_UNSUPPORTED_PARTS: dict[type, str] = {
    ImagePart: "image",
    AudioPart: "audio",
    FilePart: "file",
}


class ChatTemplate:
    """The GGUF's Jinja chat template, rendered with a generation prompt."""

    def __init__(self, template: str, *, bos_token: str, eos_token: str) -> None:
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=eos_token,
            bos_token=bos_token,
            add_generation_prompt=True,
        )

    def render(self, messages: list[dict[str, str]]) -> str:
        try:
            return self._formatter(messages=messages).prompt  # type: ignore[arg-type]
        except (TemplateError, ValueError, TypeError) as exc:
            raise invalid_request(
                f"The messages could not be formatted with the model's chat template: {exc}",
                param="messages",
            ) from None


def check_text_only(messages: list[Any], model: str) -> None:
    """Reject image, audio and file inputs: the embedded model reads text only."""
    for index, message in enumerate(messages):
        content = getattr(message, "content", None)
        if not isinstance(content, list):
            continue
        for part in content:
            kind = _UNSUPPORTED_PARTS.get(type(part))
            if kind:
                raise invalid_request(
                    f"The model `{model}` is text-only and does not accept {kind} input "
                    f"(messages[{index}] has an {part.type} content part). Send text "
                    "content only, or use a vision-capable model.",
                    param="messages",
                    code=f"{kind}_input_not_supported",
                )


def template_messages(messages: list[Any], plan: ToolPlan) -> list[dict[str, str]]:
    """Plain ``{"role", "content"}`` turns for the chat template."""
    turns: list[dict[str, str]] = []
    for message in messages:
        if isinstance(message, SystemMessage | DeveloperMessage):
            turns.append({"role": "system", "content": _text(message.content)})
        elif isinstance(message, UserMessage):
            turns.append({"role": "user", "content": _text(message.content)})
        elif isinstance(message, AssistantMessage):
            turns.append({"role": "assistant", "content": _assistant_text(message)})
        elif isinstance(message, ToolMessage | FunctionMessage):
            result = f"<tool_response>\n{_text(message.content)}\n</tool_response>"
            previous = turns[-1] if turns else None
            if previous is not None and previous["content"].startswith("<tool_response>"):
                previous["content"] += "\n" + result
            else:
                turns.append({"role": "user", "content": result})
    if plan.active:
        _add_system_text(turns, plan.system_prompt())
    return turns


def _add_system_text(turns: list[dict[str, str]], text: str) -> None:
    if turns and turns[0]["role"] == "system":
        first = turns[0]["content"]
        turns[0] = {"role": "system", "content": f"{first}\n\n{text}" if first else text}
    else:
        turns.insert(0, {"role": "system", "content": text})


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for part in content:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, RefusalPart):
            texts.append(part.refusal)
    return "\n".join(texts)


def _assistant_text(message: AssistantMessage) -> str:
    text = _text(message.content) or (message.refusal or "")
    calls = [(c.function.name, c.function.arguments) for c in message.tool_calls or []]
    if message.function_call is not None:
        calls.append((message.function_call.name, message.function_call.arguments))
    blocks = [text] if text else []
    for name, arguments in calls:
        blocks.append(f"<tool_call>\n{_call_json(name, arguments)}\n</tool_call>")
    return "\n".join(blocks)


def _call_json(name: str, arguments: str) -> str:
    try:
        parsed: Any = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        parsed = arguments
    return orjson.dumps({"name": name, "arguments": parsed}).decode()

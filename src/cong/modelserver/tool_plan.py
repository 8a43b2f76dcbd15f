"""Which tools the model is told about, and whether it must call one.

The embedded model has no native tool support: tools are described in the system
prompt, calls are parsed from the text it writes, and ``tool_choice`` ``"required"`` or
a named function constrains the output with a grammar so a valid call comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson

from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.messages import (
    AllowedToolsChoice,
    FunctionDefinition,
    FunctionTool,
    NamedToolChoice,
)

TOOLS_PROMPT = """# Tools

You may call one of the following functions to help answer the user. Their signatures, \
as JSON schemas, are inside <tools></tools>:
<tools>
{tools}
</tools>

To call a function, reply with only a JSON object with the function name and its \
arguments inside <tool_call></tool_call> tags:
<tool_call>
{{"name": <function-name>, "arguments": <arguments-json-object>}}
</tool_call>"""


@dataclass(frozen=True)
class ToolPlan:
    tools: tuple[FunctionDefinition, ...] = ()
    mode: Literal["none", "auto", "required"] = "none"
    legacy_functions: bool = False  # answered with ``function_call`` instead of tool_calls

    @property
    def active(self) -> bool:
        return self.mode != "none" and bool(self.tools)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(tool.name for tool in self.tools)

    def system_prompt(self) -> str:
        lines = [
            orjson.dumps({"type": "function", "function": _describe(tool)}).decode()
            for tool in self.tools
        ]
        return TOOLS_PROMPT.format(tools="\n".join(lines))


def _describe(tool: FunctionDefinition) -> dict[str, Any]:
    described: dict[str, Any] = {"name": tool.name}
    if tool.description:
        described["description"] = tool.description
    described["parameters"] = tool.parameters or {"type": "object", "properties": {}}
    return described


def plan_tools(request: ChatCompletionRequest) -> ToolPlan:
    """The tools and the calling mode of a chat request (never an error)."""
    if request.tools:
        functions = [t.function for t in request.tools if isinstance(t, FunctionTool)]
        return _choose(functions, request.tool_choice, legacy=False)
    if request.functions:
        functions = []
        for raw in request.functions:
            try:
                functions.append(FunctionDefinition.model_validate(raw))
            except ValueError:
                continue
        choice: Any = request.function_call
        if isinstance(choice, dict) and isinstance(choice.get("name"), str):
            choice = NamedToolChoice.model_validate(
                {"type": "function", "function": {"name": choice["name"]}}
            )
        return _choose(functions, choice, legacy=True)
    return ToolPlan()


def _choose(functions: list[FunctionDefinition], choice: Any, *, legacy: bool) -> ToolPlan:
    if not functions or choice == "none":
        return ToolPlan(legacy_functions=legacy)
    if choice == "required":
        return ToolPlan(tuple(functions), "required", legacy)
    if isinstance(choice, NamedToolChoice):
        named = [f for f in functions if f.name == choice.function.name]
        if named:
            return ToolPlan(tuple(named), "required", legacy)
    if isinstance(choice, AllowedToolsChoice):
        allowed = _allowed_names(choice.allowed_tools.get("tools"))
        subset = [f for f in functions if f.name in allowed] or functions
        mode: Literal["auto", "required"] = (
            "required" if choice.allowed_tools.get("mode") == "required" else "auto"
        )
        return ToolPlan(tuple(subset), mode, legacy)
    return ToolPlan(tuple(functions), "auto", legacy)


def _allowed_names(tools: Any) -> set[str]:
    names: set[str] = set()
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, dict):
            function = tool.get("function")
            name = function.get("name") if isinstance(function, dict) else tool.get("name")
            if isinstance(name, str):
                names.add(name)
    return names

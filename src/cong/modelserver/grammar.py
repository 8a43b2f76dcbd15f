"""GBNF grammars that make the model's output parse: JSON objects, JSON matching a
schema (``response_format``) and a forced tool call (``tool_choice``)."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

import orjson
from llama_cpp.llama_grammar import json_schema_to_gbnf

from cong.protocol.messages import FunctionDefinition

log = logging.getLogger("cong.modelserver")

# Any JSON object. Whitespace is bounded so a small model cannot loop in it forever.
JSON_OBJECT_GBNF = r"""
root ::= object
value  ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"
array  ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\""
number ::= "-"? ([0-9] | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?
ws     ::= [ ]? | "\n" [ ]{0,8}
"""

_ROOT_RULE = re.compile(r"^root ::=", re.MULTILINE)
_LOOSE_CHAR = r'char ::= [^"\\]'
_STRICT_CHAR = r'char ::= [^"\\\x7F\x00-\x1F]'


def response_format_grammar(response_format: Any) -> str | None:
    """The grammar for a validated ``response_format`` (None for plain text)."""
    kind = getattr(response_format, "type", None)
    if kind == "json_object":
        return JSON_OBJECT_GBNF
    if kind == "json_schema":
        schema = response_format.json_schema.schema_
        if not schema:
            return JSON_OBJECT_GBNF
        return schema_grammar(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS).decode())
    return None


@functools.lru_cache(maxsize=128)
def schema_grammar(schema_json: str) -> str:
    """A grammar for a JSON schema; any JSON object when the schema cannot be converted."""
    try:
        grammar = str(json_schema_to_gbnf(schema_json))
    except Exception as exc:  # the converter raises plain Exceptions on unsupported schemas
        log.warning("JSON schema not convertible to a grammar (%s); using any JSON object", exc)
        return JSON_OBJECT_GBNF
    # The converter lets raw control characters into strings, which JSON forbids.
    return grammar.replace(_LOOSE_CHAR, _STRICT_CHAR)


def tool_call_grammar(tools: tuple[FunctionDefinition, ...]) -> str:
    """Exactly one ``<tool_call>{"name": …, "arguments": {…}}</tool_call>`` block."""
    variants = [
        {
            "type": "object",
            "properties": {
                "name": {"const": tool.name},
                "arguments": _parameters(tool.parameters),
            },
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for tool in tools
    ]
    schema = variants[0] if len(variants) == 1 else {"anyOf": variants}
    call = schema_grammar(orjson.dumps(schema).decode())
    call = _ROOT_RULE.sub("tool-call-object ::=", call)
    return 'root ::= "<tool_call>\\n" tool-call-object "\\n</tool_call>"\n' + call


def any_tool_call_grammar() -> str:
    """The fallback when a tool's schema gives no usable grammar: any JSON object."""
    call = _ROOT_RULE.sub("tool-call-object ::=", JSON_OBJECT_GBNF)
    return 'root ::= "<tool_call>\\n" tool-call-object "\\n</tool_call>"\n' + call


def _parameters(parameters: dict[str, Any] | None) -> dict[str, Any]:
    if not parameters or parameters.get("type") not in (None, "object"):
        return {"type": "object"}
    return parameters

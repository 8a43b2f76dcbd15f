"""Tool-call parsing, streaming hold-back, tool plans and grammars (pure, no model)."""

from __future__ import annotations

import json

from cong.modelserver.grammar import (
    JSON_OBJECT_GBNF,
    response_format_grammar,
    schema_grammar,
    tool_call_grammar,
)
from cong.modelserver.tool_calls import ToolCallSniffer, parse_tool_calls
from cong.modelserver.tool_plan import plan_tools
from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.messages import FunctionDefinition

NAMES = frozenset({"get_weather", "search"})


def test_tagged_calls_with_leading_text() -> None:
    text = 'Sure.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Hue"}}\n</tool_call>'
    content, calls = parse_tool_calls(text, NAMES)
    assert content == "Sure."
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Hue"})]


def test_several_tagged_calls_and_unclosed_last() -> None:
    text = (
        '<tool_call>{"name": "search", "arguments": {"q": "a"}}</tool_call>'
        '<tool_call>{"name": "get_weather", "parameters": {"city": "b"}}'
    )
    _content, calls = parse_tool_calls(text, NAMES)
    assert [c.name for c in calls] == ["search", "get_weather"]
    assert json.loads(calls[1].arguments) == {"city": "b"}


def test_bare_and_fenced_json_and_string_arguments() -> None:
    bare = '{"name": "search", "arguments": "{\\"q\\": 1}"}'
    assert parse_tool_calls(bare, NAMES)[1][0].arguments == '{"q": 1}'
    fenced = '```json\n[{"name": "search", "arguments": {}}]\n```'
    assert parse_tool_calls(fenced, NAMES)[1][0].arguments == "{}"


def test_unknown_names_and_plain_json_are_content() -> None:
    assert parse_tool_calls('{"name": "rm_rf", "arguments": {}}', NAMES)[1] == []
    assert parse_tool_calls('{"a": 1}', NAMES) == ('{"a": 1}', [])
    assert parse_tool_calls("just words", NAMES) == ("just words", [])


def test_sniffer_streams_plain_text_but_holds_a_call() -> None:
    sniffer = ToolCallSniffer(NAMES)
    assert sniffer.feed("Hello") == "Hello"
    assert sniffer.feed(" there <tool") == " there "
    assert sniffer.feed('_call>{"name": "search", "arguments": {}}') == ""
    content, calls = sniffer.finish()
    assert content == "" and [c.name for c in calls] == ["search"]


def test_sniffer_holds_json_and_releases_it_when_not_a_call() -> None:
    sniffer = ToolCallSniffer(NAMES)
    assert sniffer.feed(' {"a"') == ""
    assert sniffer.feed(": 1}") == ""
    assert sniffer.finish() == (' {"a": 1}', [])


def test_sniffer_releases_a_false_tag_start() -> None:
    sniffer = ToolCallSniffer(NAMES)
    assert sniffer.feed("<to") == ""
    assert sniffer.feed("p>") == "<top>"


def _request(**extra: object) -> ChatCompletionRequest:
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {}}},
        {"type": "function", "function": {"name": "search"}},
        {"type": "custom", "custom": {"name": "free"}},
    ]
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": tools}
    return ChatCompletionRequest.model_validate({**body, **extra})


def test_tool_plans() -> None:
    assert plan_tools(_request()).mode == "auto"
    assert plan_tools(_request()).names == {"get_weather", "search"}
    assert not plan_tools(_request(tool_choice="none")).active
    named = plan_tools(_request(tool_choice={"type": "function", "function": {"name": "search"}}))
    assert named.mode == "required" and named.names == {"search"}
    allowed = plan_tools(
        _request(
            tool_choice={
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "search"}}],
                },
            }
        )
    )
    assert allowed.mode == "required" and allowed.names == {"search"}
    legacy = ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "functions": [{"name": "search"}],
            "function_call": {"name": "search"},
        }
    )
    plan = plan_tools(legacy)
    assert plan.legacy_functions and plan.mode == "required"
    assert "<tools>" in plan.system_prompt() and '"name":"search"' in plan.system_prompt()


def test_grammars() -> None:
    weather = FunctionDefinition(
        name="get_weather",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    )
    grammar = tool_call_grammar((weather, FunctionDefinition(name="search")))
    assert grammar.startswith('root ::= "<tool_call>\\n" tool-call-object')
    assert "\nroot ::=" not in grammar and '"\\"get_weather\\""' in grammar
    assert "\\x00-\\x1F" in schema_grammar('{"type": "object", "properties": {"a": {}}}')
    # A schema the converter cannot handle falls back to any JSON object.
    assert schema_grammar('{"$ref": "https://example.com/x.json"}') == JSON_OBJECT_GBNF
    text = ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "text"},
        }
    )
    assert response_format_grammar(text.response_format) is None

"""OpenAI -> Gemini: chat.completions bodies to ``GenerateContentRequest``, embeddings
to ``batchEmbedContents`` (and the answers back). Pure functions, no I/O. The Gemini ->
OpenAI direction of chat lives in :mod:`cong.providers.gemini_response` (re-exported here).

Gemini's ``thoughtSignature`` on a function call must come back with the next turn
(Gemini 3 rejects the turn otherwise), so it travels inside the tool-call id
(``call_<hex>__thought__<signature>``), which clients echo verbatim."""

from __future__ import annotations

import base64
import math
import mimetypes
import re
import struct
from typing import Any

import orjson

from cong.protocol.errors import invalid_request, upstream_error
from cong.providers.gemini_response import (
    SIGNATURE_SEP,
    GeminiStream,
    from_gemini_response,
    gemini_error,
)

__all__ = [
    "GeminiStream",
    "clean_schema",
    "from_gemini_embed_response",
    "from_gemini_response",
    "gemini_error",
    "model_path",
    "to_gemini_embed_request",
    "to_gemini_request",
]

JSON = dict[str, Any]
# Google's documented stand-in when a replayed Gemini 3 function call lost its signature.
SKIP_SIGNATURE = "skip_thought_signature_validator"
_MOST = dict.fromkeys(("high", "xhigh", "max"), 24576)  # 2.5 Flash's ceiling
THINKING_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, **_MOST}
TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
_GENERATION_FIELDS = (
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("n", "candidateCount"),
    ("seed", "seed"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
)
_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^;,]*)*;base64,(?P<data>.*)", re.S)
# The OpenAPI-subset Schema fields Gemini accepts (anything else is a 400 there).
_SCHEMA_FIELDS = (
    "type format title description nullable enum maxItems minItems required minProperties "
    "maxProperties minLength maxLength pattern example propertyOrdering default minimum maximum"
)
_SCHEMA_KEYS = frozenset(_SCHEMA_FIELDS.split())
_FORMATS = frozenset(("enum", "date-time", "int32", "int64", "float", "double"))


def model_path(model: str) -> str:
    """``gemini-2.5-flash`` -> ``models/gemini-2.5-flash`` (tuned models keep their path)."""
    return model if "/" in model else f"models/{model}"


# --- requests -------------------------------------------------------------------------


def to_gemini_request(body: JSON) -> JSON:
    """An OpenAI chat.completions body -> a Gemini ``GenerateContentRequest``."""
    system, contents = _contents(body.get("messages") or [], str(body.get("model") or ""))
    request: JSON = {"contents": contents}
    if system and contents:
        request["systemInstruction"] = {"parts": system}
    elif system:  # a system-only conversation: Gemini needs at least one turn
        request["contents"] = [{"role": "user", "parts": system}]
    choice = body.get("tool_choice", body.get("function_call"))
    declarations = _declarations(body, choice)
    if declarations:
        request["tools"] = [{"functionDeclarations": declarations}]
        config = _tool_config(choice)
        if config:
            request["toolConfig"] = {"functionCallingConfig": config}
    generation = _generation_config(body)
    if generation:
        request["generationConfig"] = generation
    return request


def _contents(messages: list[JSON], model: str) -> tuple[list[JSON], list[JSON]]:
    system: list[JSON] = []
    contents: list[JSON] = []
    names: dict[str, str] = {}  # tool-call id -> function name
    for i, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_parts(message.get("content")))
            continue
        if role == "user":
            turn, parts = "user", _user_parts(message.get("content"), i)
        elif role == "assistant":
            turn, parts = "model", _assistant_parts(message, names, model)
        elif role in ("tool", "function"):
            turn, parts = "user", [_function_response(message, names, i)]
        else:
            raise invalid_request(f"Unsupported message role `{role}`.", param=f"messages.[{i}]")
        if not parts:
            continue
        if contents and contents[-1]["role"] == turn:
            contents[-1]["parts"].extend(parts)  # Gemini wants alternating turns
        else:
            contents.append({"role": turn, "parts": parts})
    return system, contents


def _text_parts(content: Any) -> list[JSON]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if isinstance(content, list):
        return [{"text": p["text"]} for p in content if p.get("type") == "text" and p["text"]]
    return []


def _user_parts(content: Any, i: int) -> list[JSON]:
    if not isinstance(content, list):
        return _text_parts(content)
    where = f"messages.[{i}].content"
    parts: list[JSON] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            parts.extend(_text_parts([part]))
        elif kind == "image_url":
            parts.append(_media(part["image_url"]["url"], where))
        elif kind == "input_audio":
            audio = part["input_audio"]
            mime = f"audio/{audio['format']}"
            parts.append({"inlineData": {"mimeType": mime, "data": audio["data"]}})
        elif kind == "file" and isinstance(part["file"].get("file_data"), str):
            data: str = part["file"]["file_data"]
            if data.startswith("data:"):
                parts.append(_media(data, where))
            else:
                name = str(part["file"].get("filename") or "")
                mime = mimetypes.guess_type(name)[0] or "application/pdf"
                parts.append({"inlineData": {"mimeType": mime, "data": data}})
        else:
            raise invalid_request(
                f"Content parts of type `{kind}` are not supported by this model's upstream.",
                param=where,
                code="unsupported_by_upstream",
            )
    return parts


def _media(url: str, where: str) -> JSON:
    if url.startswith("data:"):
        match = _DATA_URL.fullmatch(url)
        if match is None:
            raise invalid_request(
                "Data URLs must be base64-encoded: data:<mime type>;base64,<data>.", param=where
            )
        mime = match["mime"] or "application/octet-stream"
        return {"inlineData": {"mimeType": mime, "data": match["data"]}}
    if url.startswith(("http://", "https://")):
        mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    raise invalid_request("Image URLs must be http(s):// or data: URLs.", param=where)


def _assistant_parts(message: JSON, names: dict[str, str], model: str) -> list[JSON]:
    parts = _text_parts(message.get("content"))
    calls = list(message.get("tool_calls") or [])
    if message.get("function_call"):
        calls.append({"id": "", "function": message["function_call"]})
    for position, call in enumerate(calls):
        function = call.get("function") or {}
        call_id = str(call.get("id") or "")
        names[call_id] = str(function.get("name") or "")
        part: JSON = {"functionCall": {"name": names[call_id], "args": _args(function)}}
        signature = call_id.partition(SIGNATURE_SEP)[2]
        if signature:
            part["thoughtSignature"] = signature
        elif position == 0 and model.removeprefix("models/").startswith("gemini-3"):
            part["thoughtSignature"] = SKIP_SIGNATURE
        parts.append(part)
    return parts


def _args(function: JSON) -> JSON:
    raw = function.get("arguments") or "{}"
    try:
        args = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_request(
            f"The arguments of the tool call `{function.get('name')}` are not valid JSON.",
            param="messages",
        ) from None
    return args if isinstance(args, dict) else {"value": args}


def _function_response(message: JSON, names: dict[str, str], i: int) -> JSON:
    if message.get("role") == "function":
        name = str(message.get("name") or "")
    else:
        call_id = str(message.get("tool_call_id") or "")
        if call_id not in names:
            raise invalid_request(
                f"The tool message's tool_call_id `{call_id}` answers no earlier assistant "
                "tool call.",
                param=f"messages.[{i}].tool_call_id",
            )
        name = names[call_id]
    content = message.get("content")
    text = (
        content
        if isinstance(content, str)
        else "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))
    )
    try:
        value: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    response = value if isinstance(value, dict) else {"output": value}
    return {"functionResponse": {"name": name, "response": response}}


def _declarations(body: JSON, choice: Any) -> list[JSON]:
    functions: list[JSON] = []
    for tool in body.get("tools") or []:
        if tool.get("type") != "function":
            raise invalid_request(
                "Only function tools are supported by this model's upstream.",
                param="tools",
                code="unsupported_by_upstream",
            )
        functions.append(tool["function"])
    functions.extend(body.get("functions") or [])
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        allowed = {_tool_name(t) for t in choice["allowed_tools"].get("tools") or []}
        functions = [f for f in functions if f.get("name") in allowed]
    declarations = []
    for function in functions:
        declaration: JSON = {"name": function["name"]}
        if function.get("description"):
            declaration["description"] = function["description"]
        parameters = clean_schema(function.get("parameters") or {})
        if parameters.get("properties"):
            declaration["parameters"] = parameters
        declarations.append(declaration)
    return declarations


def _tool_name(tool: JSON) -> str:
    return str((tool.get("function") or tool).get("name") or "")


def _tool_config(choice: Any) -> JSON | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        mode = TOOL_MODES.get(choice)
        return {"mode": mode} if mode else None
    kind = choice.get("type")
    if kind == "allowed_tools":
        return {"mode": "ANY" if choice["allowed_tools"].get("mode") == "required" else "AUTO"}
    if kind == "function" or (kind is None and "name" in choice):
        return {"mode": "ANY", "allowedFunctionNames": [_tool_name(choice)]}
    raise invalid_request(
        f"tool_choice of type `{kind}` is not supported by this model's upstream.",
        param="tool_choice",
        code="unsupported_by_upstream",
    )


def _generation_config(body: JSON) -> JSON:
    config: JSON = {dst: body[src] for src, dst in _GENERATION_FIELDS if body.get(src) is not None}
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit:
        config["maxOutputTokens"] = limit
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    fmt = body.get("response_format") or {}
    if fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema:
            config["responseSchema"] = clean_schema(schema)
    effort = body.get("reasoning_effort")
    if effort in THINKING_BUDGETS:
        budget = THINKING_BUDGETS[effort]
        config["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": budget > 0}
    return config


def clean_schema(schema: Any, defs: JSON | None = None, depth: int = 0) -> JSON:
    """A JSON Schema -> Gemini's Schema subset: ``$ref`` inlined, ``const`` -> ``enum``,
    ``["T", "null"]`` and ``anyOf: [T, null]`` -> ``nullable``, ``oneOf`` -> ``anyOf``,
    ``allOf`` merged, and fields Gemini rejects (``additionalProperties``, ``$schema``,
    ``strict``, ...) or leaves empty dropped."""
    if not isinstance(schema, dict) or depth > 24:
        return {}
    if defs is None:
        defs = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    if isinstance(schema.get("$ref"), str):
        target = defs.get(schema["$ref"].rsplit("/", 1)[-1]) or {}
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return clean_schema({**target, **rest}, defs, depth + 1)
    out: JSON = {}
    for key, value in schema.items():
        if key == "properties" and isinstance(value, dict) and value:
            out[key] = {name: clean_schema(sub, defs, depth + 1) for name, sub in value.items()}
        elif key == "items":
            out[key] = clean_schema(value, defs, depth + 1)
        elif key in ("anyOf", "oneOf") and isinstance(value, list):
            options = [clean_schema(sub, defs, depth + 1) for sub in value]
            kept = [option for option in options if option != {"type": "null"}]
            if len(kept) < len(options):
                out["nullable"] = True
            if len(kept) == 1:  # Optional[X] as pydantic writes it
                out.update(kept[0])
            elif kept:
                out["anyOf"] = kept
        elif key == "allOf" and isinstance(value, list):
            for sub in value:
                merged = clean_schema(sub, defs, depth + 1)
                out["properties"] = {**out.get("properties", {}), **merged.pop("properties", {})}
                out["required"] = [*out.get("required", []), *merged.pop("required", [])]
                out.update(merged)
        elif key == "const":
            out["enum"] = [value]
        elif key == "type" and isinstance(value, list):
            kinds = [kind for kind in value if kind != "null"]
            if len(kinds) < len(value):
                out["nullable"] = True
            if len(kinds) == 1:
                out["type"] = kinds[0]
            elif kinds:
                out["anyOf"] = [{"type": kind} for kind in kinds]
        elif key == "format" and value not in _FORMATS:
            continue
        elif key in _SCHEMA_KEYS:
            out[key] = value
    return {k: v for k, v in out.items() if v is not None and v not in ({}, [])}


# --- embeddings -----------------------------------------------------------------------


def to_gemini_embed_request(body: JSON) -> JSON:
    """An OpenAI embeddings body -> a ``batchEmbedContents`` request."""
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    if not all(isinstance(text, str) for text in inputs):
        raise invalid_request(
            "This embedding model takes text only, not token arrays.",
            param="input",
            code="unsupported_by_upstream",
        )
    model = model_path(str(body["model"]))
    requests = []
    for text in inputs:
        request: JSON = {"model": model, "content": {"parts": [{"text": text}]}}
        if body.get("dimensions"):
            request["outputDimensionality"] = body["dimensions"]
        requests.append(request)
    return {"requests": requests}


def from_gemini_embed_response(resp: JSON, model: str, body: JSON) -> JSON:
    """``batchEmbedContents`` answer -> OpenAI ``list`` of embeddings. Vectors shortened
    with ``dimensions`` are re-normalized (as OpenAI's are); base64 is little-endian
    float32. Gemini reports no token counts, so usage is estimated (4 chars a token)."""
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    embeddings = resp.get("embeddings") or []
    if len(embeddings) != len(inputs):
        raise upstream_error("The upstream answered with the wrong number of embeddings.")
    data = []
    for index, embedding in enumerate(embeddings):
        values = [float(v) for v in embedding.get("values") or []]
        if body.get("dimensions"):
            norm = math.sqrt(sum(v * v for v in values)) or 1.0
            values = [v / norm for v in values]
        vector: Any = values
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(max(1, math.ceil(len(text) / 4)) for text in inputs)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }

"""Turn request bodies into validated models, or into OpenAI-style 400 errors."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from cong.protocol.errors import APIError, invalid_request

M = TypeVar("M", bound=BaseModel)


def parse_json_object(body: bytes, api: str = "OpenAI") -> dict[str, Any]:
    """Decode a JSON request body that must be an object (``api``: whose API the hint
    names)."""
    if not body:
        raise invalid_request(
            "We could not parse the JSON body of your request: the body is empty. "
            "(HINT: send a JSON object with Content-Type: application/json.)"
        )
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise invalid_request(
            f"We could not parse the JSON body of your request ({exc}). (HINT: This likely "
            f"means you aren't using your HTTP library correctly. The {api} API expects a "
            "JSON payload.)"
        ) from None
    if not isinstance(data, dict):
        raise invalid_request("The request body must be a JSON object.")
    return data


def validate(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise to_api_error(exc, data) from None


def to_api_error(exc: ValidationError, data: Any) -> APIError:
    # The deepest location is the most specific one (a union's matching branch).
    # The deepest location is the most specific one (a union's matching branch); among
    # equals, a constraint error says more than a type mismatch of another branch.
    error = max(
        exc.errors(include_url=False),
        key=lambda e: (len(e["loc"]), not e["type"].endswith("_type")),
    )
    kind = error["type"]
    param = _param(error["loc"], data)
    ctx = error.get("ctx") or {}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = str(ctx.get("discriminator", "")).strip("'")
        param = f"{param}.{tag}" if param else tag
        expected = ctx.get("expected_tags", "")
        return invalid_request(
            f"Invalid value for '{param}': expected one of {expected}.", param=param
        )
    if kind == "missing":
        # The missing field is not in the data: name it after the path that leads there.
        parent, name = _param(error["loc"][:-1], data), str(error["loc"][-1])
        param = f"{parent}.{name}" if parent else name
        return invalid_request(f"Missing required parameter: '{param}'.", param=param)
    if kind == "value_error":
        message = str(ctx.get("error", error["msg"]))
        named, sep, rest = message.partition(": ")
        if sep and " " not in named:
            return invalid_request(rest, param=named)
        return invalid_request(message, param=param or None)
    got = _short(error.get("input"))
    return invalid_request(
        f"Invalid value for '{param}': {error['msg']}, got {got}.", param=param or None
    )


def _param(loc: tuple[int | str, ...], data: Any) -> str:
    """The OpenAI-style parameter path (``messages.[0].content``) of an error location.

    Location parts that are not in the request data (union branch names, discriminator
    tags) are skipped by walking the data alongside.
    """
    parts: list[str] = []
    current = data
    for index, item in enumerate(loc):
        following = loc[index + 1] if index + 1 < len(loc) else None
        if (
            isinstance(item, str)
            and isinstance(current, dict)
            and _is_tag(item, following, current)
        ):
            continue
        if isinstance(item, int) and isinstance(current, list) and 0 <= item < len(current):
            parts.append(f"[{item}]")
            current = current[item]
        elif (
            isinstance(item, str)
            and isinstance(current, dict)
            and (item in current or _is_field_name(item, current))
        ):
            parts.append(item)
            current = current.get(item)
        # else: a union branch or discriminator tag, not part of the request
    return ".".join(parts)


def _is_tag(item: str, following: int | str | None, current: dict[str, Any]) -> bool:
    """A discriminator tag in the location: the value of the tag field, not a key."""
    is_value = any(v == item for v in current.values() if isinstance(v, str))
    return is_value and (item not in current or following == item)


def _is_field_name(item: str, current: dict[str, Any]) -> bool:
    """A missing field's name, as opposed to a type name or a discriminator tag value."""
    return (
        item.isidentifier()
        and item not in _TYPE_NAMES
        and item not in {v for v in current.values() if isinstance(v, str)}
    )


_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "literal"})


def _short(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode() if value is not None else "null"
    return text if len(text) <= 60 else text[:57] + "..."

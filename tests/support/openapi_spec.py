"""Validate our answers against the official OpenAI OpenAPI spec (shared/openai-openapi)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SPEC = Path(
    os.environ.get(
        "CONG_OPENAI_SPEC",
        Path(__file__).resolve().parents[3] / "shared" / "openai-openapi" / "openapi.yaml",
    )
)


@functools.cache
def _components() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC.open() as handle:
        spec = yaml.load(handle, Loader=loader)
    return {"components": _nullable_to_31(spec["components"])}


def _nullable_to_31(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` (still used in places) means ``null`` is allowed."""
    if isinstance(node, dict):
        node = {k: _nullable_to_31(v) for k, v in node.items()}
        if node.pop("nullable", False):
            return {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_nullable_to_31(v) for v in node]
    return node


def validate_schema(instance: Any, name: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``instance`` matches the named schema."""
    schema = {"$ref": f"#/components/schemas/{name}", **_components()}
    jsonschema.Draft202012Validator(schema).validate(instance)


@functools.cache
def _stream_event_schemas() -> dict[str, str]:
    """Responses stream event type → the spec's schema name for it."""
    schemas = _components()["components"]["schemas"]
    names: dict[str, str] = {}
    for ref in schemas["ResponseStreamEvent"]["anyOf"]:
        name = ref["$ref"].rsplit("/", 1)[-1]
        for kind in schemas[name].get("properties", {}).get("type", {}).get("enum", []):
            names[kind] = name
    return names


def validate_response_event(event: dict[str, Any]) -> None:
    """Validate one Responses stream event against the schema for its ``type``."""
    validate_schema(event, _stream_event_schemas()[event["type"]])

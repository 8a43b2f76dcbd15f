"""What a model can do and how much context it takes: built-in facts for well-known
model families, the embedded models' settings, and an admin's overrides (which win).

Capabilities: ``chat``, ``tools``, ``vision``, ``json``, ``reasoning``, ``embeddings``,
``images``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

CAPABILITIES = ("chat", "tools", "vision", "json", "reasoning", "embeddings", "images")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    context_length: int | None = None
    capabilities: tuple[str, ...] = ()


# (pattern on the model id, context length, extra capabilities beyond what the route says)
_KNOWN: tuple[tuple[re.Pattern[str], int | None, tuple[str, ...]], ...] = tuple(
    (re.compile(pattern), length, extra)
    for pattern, length, extra in (
        (r"^(gpt-4o|chatgpt-4o)", 128_000, ()),
        (r"^gpt-4\.1", 1_047_576, ()),
        (r"^gpt-5", 400_000, ("reasoning",)),
        (r"^gpt-4-turbo|^gpt-4-\d{4}-preview", 128_000, ()),
        (r"^gpt-4(-\d+)?$", 8_192, ()),
        (r"^gpt-3\.5-turbo", 16_385, ()),
        (r"^o[134](-|$)", 200_000, ("reasoning",)),
        (r"^claude-", 200_000, ()),
        (r"^gemini-1\.5-pro", 2_097_152, ()),
        (r"^gemini-(1\.5|2\.\d|3)", 1_048_576, ()),
        (r"^deepseek-(reasoner|r1)", 128_000, ("reasoning",)),
        (r"^deepseek-", 128_000, ()),
        (r"^text-embedding-3", 8_191, ()),
        (r"^text-embedding-ada-002", 8_191, ()),
        (r"^all-minilm", 256, ()),
    )
)


def route_capabilities(kind: str, vision: bool) -> tuple[str, ...]:
    """What a route's kind says: chat models answer chat, tool calls and JSON mode (the
    gateway passes them through; an admin can correct a model that cannot)."""
    if kind == "embedding":
        return ("embeddings",)
    if kind == "image":
        return ("images",)
    return ("chat", "tools", "json", *(("vision",) if vision else ()))


@functools.lru_cache(maxsize=4096)  # asked on every request: the patterns run once per model
def known_info(model: str, kind: str, vision: bool) -> ModelInfo:
    capabilities = route_capabilities(kind, vision)
    for pattern, length, extra in _KNOWN:
        if pattern.search(model):
            return ModelInfo(length, _ordered((*capabilities, *extra)))
    return ModelInfo(None, _ordered(capabilities))


def merged(base: ModelInfo, override: dict[str, object] | None) -> ModelInfo:
    if not override:
        return base
    length = override.get("context_length", base.context_length)
    capabilities = override.get("capabilities")
    return ModelInfo(
        context_length=length if isinstance(length, int) else None,
        capabilities=_ordered(tuple(str(c) for c in capabilities))
        if isinstance(capabilities, list)
        else base.capabilities,
    )


def _ordered(capabilities: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(c for c in CAPABILITIES if c in capabilities)

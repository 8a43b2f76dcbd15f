"""The upstream protocols, by the name a channel's ``type`` gives: the only list of
provider names. Adding a provider is one line here (its modules load on first use)."""

from __future__ import annotations

import importlib
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

from cong.providers.base import Provider, UpstreamConfig

# protocol -> (module, class) implementing it
PROTOCOLS: dict[str, tuple[str, str]] = {
    "openai": ("cong.providers.openai_compat", "OpenAICompatible"),
    "anthropic": ("cong.providers.anthropic", "Anthropic"),
    "gemini": ("cong.providers.gemini", "Gemini"),
    "azure": ("cong.providers.azure", "AzureOpenAI"),
}


def protocol_names() -> list[str]:
    return list(PROTOCOLS)


def known_protocol(name: str) -> str:
    if name not in PROTOCOLS:
        raise ValueError(f"unknown upstream protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return name


# A channel's ``type`` in settings and API models: one of the protocols above.
ProtocolName = Annotated[
    str,
    AfterValidator(known_protocol),
    WithJsonSchema({"type": "string", "enum": protocol_names()}),
]


def build_provider(protocol: str, config: UpstreamConfig) -> Provider:
    module_name, class_name = PROTOCOLS[known_protocol(protocol)]
    provider: Provider = getattr(importlib.import_module(module_name), class_name)(config)
    return provider

"""Build a provider from its protocol name. Provider names stay inside this package."""

from __future__ import annotations

import importlib

from cong.providers.base import Provider, UpstreamConfig

# protocol -> (module, class) implementing it
PROTOCOLS: dict[str, tuple[str, str]] = {
    "openai": ("cong.providers.openai_compat", "OpenAICompatible"),
    "anthropic": ("cong.providers.anthropic", "Anthropic"),
    "gemini": ("cong.providers.gemini", "Gemini"),
    "azure": ("cong.providers.azure", "AzureOpenAI"),
}


def build_provider(protocol: str, config: UpstreamConfig) -> Provider:
    if protocol not in PROTOCOLS:
        known = ", ".join(PROTOCOLS)
        raise ValueError(f"unknown upstream protocol {protocol!r}; known: {known}")
    module_name, class_name = PROTOCOLS[protocol]
    provider: Provider = getattr(importlib.import_module(module_name), class_name)(config)
    return provider

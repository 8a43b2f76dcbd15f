"""Build a provider from its protocol name. Provider names stay inside this package."""

from __future__ import annotations

from cong.providers.base import Provider, UpstreamConfig
from cong.providers.openai_compat import OpenAICompatible

PROTOCOLS = ("openai",)


def build_provider(protocol: str, config: UpstreamConfig) -> Provider:
    if protocol == "openai":
        return OpenAICompatible(config)
    raise ValueError(f"unknown upstream protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")

"""Memory modes: ``off`` (nothing stored or injected), ``history`` (conversations are
stored and continued), ``full`` (history, plus the user's memories injected)."""

from __future__ import annotations

from typing import Literal

from cong.accounts.principal import Principal
from cong.settings import MemorySettings

Mode = Literal["off", "history", "full"]
MODES: tuple[Mode, ...] = ("off", "history", "full")


def mode_of(principal: Principal, settings: MemorySettings, *, web: bool = False) -> Mode:
    """The caller's mode: the key's, else its group's, else the default (the web chat's
    default for a password session of the web chat)."""
    if not settings.enabled:
        return "off"
    chosen = principal.memory_mode
    if chosen in MODES:
        return chosen
    if web:
        return settings.web_mode
    return settings.default_mode

"""llama.cpp's own log, through Python logging (logger ``llama.cpp``): its warnings and
errors reach the model server's log with the rest, its info and debug lines (over a
thousand for each model it loads) only at ``--log-level debug``.

llama.cpp hands over pieces of lines (a load's progress dots; a message continued with
level CONT): they are joined per thread and logged one line at a time."""

from __future__ import annotations

import ctypes
import logging
import threading
from typing import Any

import llama_cpp

log = logging.getLogger("llama.cpp")

# ggml.h's ggml_log_level: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues
# the last message; llama-cpp-python's own _logger.py has an older order). Its INFO is
# load-time detail (every metadata key, every tensor): debug for us.
_LEVELS = {3: logging.WARNING, 4: logging.ERROR}
_CONT = 5


class _Pending(threading.local):
    level = logging.DEBUG
    text = ""


_pending = _Pending()
_installed: list[Any] = []  # the C callback, kept alive as long as llama.cpp may call it


def _emit(level: int, text: str) -> None:
    line = text.rstrip()
    if line.strip():
        log.log(level, "%s", line)


def _receive(level: int, text: bytes | None, _user_data: ctypes.c_void_p) -> None:
    pending = _pending
    if level != _CONT:
        if pending.text:  # a line left unfinished (progress dots) ends here
            _emit(pending.level, pending.text)
            pending.text = ""
        pending.level = _LEVELS.get(level, logging.DEBUG)
    if not log.isEnabledFor(pending.level):
        return
    pending.text += (text or b"").decode("utf-8", "replace")
    if "\n" in pending.text:
        *lines, pending.text = pending.text.split("\n")
        for line in lines:
            _emit(pending.level, line)


def install() -> None:
    """Route llama.cpp's log (and ggml's) through ``_receive``, once per process."""
    if _installed:
        return
    callback = llama_cpp.llama_log_callback(_receive)
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    _installed.append(callback)

"""Sampling parameters, stop sequences, seeds and the output budget of a request."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from cong.modelserver.prompt_tokens import too_long
from cong.modelserver.sampler import SamplingParams
from cong.protocol.cong_headers import MAX_TOKENS_CLAMPED
from cong.protocol.errors import invalid_request

SEED_MASK = 0xFFFFFFFF


def sampling_params(request: Any, *, n_vocab: int) -> SamplingParams:
    """From a validated chat or completions request; llama.cpp-style extras (``top_k``,
    ``min_p``, ``repetition_penalty``/``repeat_penalty``) are read from unknown fields."""
    if getattr(request, "logprobs", None) or getattr(request, "top_logprobs", None):
        raise invalid_request(
            "The embedded models do not compute log probabilities: leave out logprobs "
            "and top_logprobs, or use a model of an upstream that returns them.",
            param="logprobs",
            code="unsupported_parameter",
        )
    extra: dict[str, Any] = request.model_extra or {}
    defaults = SamplingParams()
    repetition = extra.get("repetition_penalty", extra.get("repeat_penalty"))
    return SamplingParams(
        temperature=_float(request.temperature, defaults.temperature),
        top_p=_float(request.top_p, defaults.top_p),
        top_k=_int_extra(extra, "top_k", defaults.top_k, low=0),
        min_p=_float_extra(extra, "min_p", defaults.min_p, low=0.0, high=1.0),
        presence_penalty=_float(request.presence_penalty, 0.0),
        frequency_penalty=_float(request.frequency_penalty, 0.0),
        repetition_penalty=_checked_float(repetition, "repetition_penalty", 1.0, 0.01, 10.0),
        logit_bias=_logit_bias(request.logit_bias, n_vocab),
    )


def _float(value: float | None, default: float) -> float:
    return default if value is None else float(value)


def _float_extra(
    extra: dict[str, Any], name: str, default: float, *, low: float, high: float
) -> float:
    return _checked_float(extra.get(name), name, default, low, high)


def _checked_float(value: Any, name: str, default: float, low: float, high: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not (low <= value <= high):
        raise invalid_request(
            f"Invalid value for '{name}': expected a number from {low} to {high}.", param=name
        )
    return float(value)


def _int_extra(extra: dict[str, Any], name: str, default: int, *, low: int) -> int:
    value = extra.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise invalid_request(
            f"Invalid value for '{name}': expected an integer of at least {low}.", param=name
        )
    return value


def _logit_bias(bias: dict[str, int] | None, n_vocab: int) -> dict[int, float]:
    result: dict[int, float] = {}
    for key, value in (bias or {}).items():
        try:
            token = int(key)
        except ValueError:
            token = -1
        if not 0 <= token < n_vocab:
            raise invalid_request(
                f"Invalid key in 'logit_bias': {key!r} is not a token id of this model "
                f"(0 to {n_vocab - 1}).",
                param="logit_bias",
            )
        result[token] = float(value)
    return result


def stop_sequences(stop: str | list[str] | None) -> list[str]:
    if stop is None:
        return []
    return [s for s in ([stop] if isinstance(stop, str) else stop) if s]


def base_seed(seed: int | None) -> int:
    """The request's seed, or a random one; choice ``i`` decodes with ``base + i``."""
    return random.randrange(SEED_MASK) if seed is None else seed


@dataclass(frozen=True)
class Budget:
    tokens: int  # completion tokens a choice may generate
    clamped: bool  # the requested max_tokens was larger than the context allows


def output_budget(
    prompt_tokens: int, requested: int | None, context_size: int, *, param: str, cap: int
) -> Budget:
    """Tokens a choice may generate: ``requested`` clamped to what fits the context (as
    llama.cpp's server does), or ``cap`` when the request sets no limit. A prompt that
    leaves no room is a 400 ``context_length_exceeded``."""
    room = context_size - prompt_tokens
    if room <= 0:
        raise too_long(
            f"This model's maximum context length is {context_size} tokens. However, your "
            f"{param} resulted in {prompt_tokens} tokens. Please reduce the length of the "
            f"{param}.",
            param,
        )
    if requested is None:
        return Budget(min(cap, room), False)
    return Budget(min(requested, room), requested > room)


def clamp_headers(budgets: list[Budget]) -> dict[str, str]:
    """``x-cong-max-tokens-clamped: N`` when a max_tokens was lowered to N to fit."""
    clamped = [b.tokens for b in budgets if b.clamped]
    return {MAX_TOKENS_CLAMPED: str(min(clamped))} if clamped else {}

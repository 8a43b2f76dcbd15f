"""Token sampling with llama.cpp's sampler chain, plus an optional GBNF grammar.

The grammar is applied lazily, as llama.cpp's own server does: the token is first drawn
without it and only when the grammar rejects that token are the candidates filtered
(the top 1024 by logit first, the whole vocabulary only when none of those fits) and
the draw repeated. Checking a whole 49k vocabulary against a grammar every step costs
~150 ms on a small CPU; the lazy check keeps constrained decoding at full speed.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import llama_cpp
import numpy as np

TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)
FIRST_GRAMMAR_WINDOW = 1024


@dataclass(frozen=True)
class SamplingParams:
    """OpenAI's sampling parameters (and llama.cpp extensions) with OpenAI's defaults."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 40
    min_p: float = 0.05
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    penalty_window: int = 64
    logit_bias: dict[int, float] = field(default_factory=dict)


def _seed32(seed: int) -> int:
    """llama.cpp seeds are 32-bit and 0xFFFFFFFF means "random": keep seeds reproducible."""
    value = seed & 0xFFFFFFFF
    return 0xFFFFFFFE if value == 0xFFFFFFFF else value


def _plain_greedy(params: SamplingParams) -> bool:
    """Greedy with nothing that changes the logits first (no bias, no penalties)."""
    return params.temperature <= 0.0 and not params.logit_bias and not _penalised(params)


def _penalised(params: SamplingParams) -> bool:
    return bool(
        params.presence_penalty or params.frequency_penalty or params.repetition_penalty != 1.0
    )


class LogitsRows:
    """The logits of the last decoded batch as numpy views, by batch index. llama.cpp
    keeps them in one buffer: the view of each row address is made once and reused
    (``np.ctypeslib.as_array`` costs several times the argmax itself)."""

    def __init__(self, context: Any, n_vocab: int) -> None:
        self.context = context
        self._n_vocab = n_vocab
        self._views: dict[int, np.ndarray] = {}

    def row(self, index: int) -> np.ndarray:
        pointer = llama_cpp.llama_get_logits_ith(self.context, index)
        address = ctypes.cast(pointer, ctypes.c_void_p).value or 0
        view = self._views.get(address)
        if view is None:
            if len(self._views) >= 1024:  # the buffer moved (it grew): start again
                self._views.clear()
            view = np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
            self._views[address] = view
        return view


class GrammarError(ValueError):
    """llama.cpp could not parse a GBNF grammar."""


class Sampler:
    """One choice's sampler: create, ``sample`` once per token, ``close`` (or ``with``)."""

    def __init__(
        self,
        model: Any,
        logits: LogitsRows,
        params: SamplingParams,
        *,
        seed: int,
        grammar: str | None = None,
    ) -> None:
        self._logits = logits
        self._ctx = logits.context
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(model.vocab))
        self._chain = llama_cpp.llama_sampler_chain_init(
            llama_cpp.llama_sampler_chain_default_params()
        )
        self._grammar: Any = None
        if grammar is not None:
            self._grammar = llama_cpp.llama_sampler_init_grammar(
                model.vocab, grammar.encode("utf-8"), b"root"
            )
            if not self._grammar:
                self.close()
                raise GrammarError("the output grammar could not be compiled")
        self._build_chain(params, seed)
        self._ids = np.arange(self._n_vocab, dtype=np.int32)
        # Plain greedy decoding is an argmax over the logits: read in place, it costs a
        # sixth of the chain's copy of the whole vocabulary (the same token: the first
        # highest logit).
        self._argmax = grammar is None and _plain_greedy(params)

    def _build_chain(self, params: SamplingParams, seed: int) -> None:
        add = llama_cpp.llama_sampler_chain_add
        chain = self._chain
        if params.logit_bias:
            biases = (llama_cpp.llama_logit_bias * len(params.logit_bias))(
                *(
                    llama_cpp.llama_logit_bias(token, bias)
                    for token, bias in params.logit_bias.items()
                )
            )
            add(
                chain,
                llama_cpp.llama_sampler_init_logit_bias(
                    self._n_vocab, len(params.logit_bias), biases
                ),
            )
        if _penalised(params):
            add(
                chain,
                llama_cpp.llama_sampler_init_penalties(
                    self._n_vocab,
                    params.penalty_window,
                    params.repetition_penalty,
                    params.frequency_penalty,
                    params.presence_penalty,
                ),
            )
        if params.temperature <= 0.0:
            add(chain, llama_cpp.llama_sampler_init_greedy())
            return
        if params.top_k > 0:
            add(chain, llama_cpp.llama_sampler_init_top_k(params.top_k))
        if params.top_p < 1.0:
            add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
        if params.min_p > 0.0:
            add(chain, llama_cpp.llama_sampler_init_min_p(params.min_p, 1))
        add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
        add(chain, llama_cpp.llama_sampler_init_dist(_seed32(seed)))

    def sample(self, index: int = -1) -> int:
        """Draw the next token from the logits at ``index`` of the last decoded batch."""
        if self._argmax:
            return int(self._logits.row(index).argmax())
        if self._grammar is None:
            # llama_sampler_sample also accepts the token into the chain (penalties).
            return int(llama_cpp.llama_sampler_sample(self._chain, self._ctx, index))
        logits = self._logits.row(index)
        candidates = np.empty(self._n_vocab, dtype=TOKEN_DATA)
        candidates["id"] = self._ids
        candidates["logit"] = logits
        candidates["p"] = 0.0
        token = self._draw(self._chain, candidates.copy())
        if not self._allowed(token):
            token = self._draw_constrained(logits, candidates)
        llama_cpp.llama_sampler_accept(self._grammar, token)
        llama_cpp.llama_sampler_accept(self._chain, token)
        return token

    def _draw_constrained(self, logits: np.ndarray, candidates: np.ndarray) -> int:
        window = min(FIRST_GRAMMAR_WINDOW, self._n_vocab - 1)
        top = np.argpartition(-logits, window)[:window]
        subset = np.empty(len(top), dtype=TOKEN_DATA)
        subset["id"] = top
        subset["logit"] = logits[top]
        subset["p"] = 0.0
        self._apply(self._grammar, subset)
        if not np.isfinite(subset["logit"]).any():
            subset = candidates
            self._apply(self._grammar, subset)
        return self._draw(self._chain, subset)

    def _allowed(self, token: int) -> bool:
        one = np.zeros(1, dtype=TOKEN_DATA)
        one["id"] = token
        self._apply(self._grammar, one)
        return bool(np.isfinite(one["logit"][0]))

    @staticmethod
    def _apply(sampler: Any, data: np.ndarray) -> Any:
        array = llama_cpp.llama_token_data_array(
            data=data.ctypes.data_as(llama_cpp.llama_token_data_p),
            size=len(data),
            selected=-1,
            sorted=False,
        )
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
        return array

    def _draw(self, sampler: Any, data: np.ndarray) -> int:
        array = self._apply(sampler, data)
        if array.selected < 0:  # every candidate was ruled out
            return int(data["id"][int(np.argmax(data["logit"]))])
        return int(array.data[array.selected].id)

    def close(self) -> None:
        if self._chain is not None:
            llama_cpp.llama_sampler_free(self._chain)
            self._chain = None
        if self._grammar:
            llama_cpp.llama_sampler_free(self._grammar)
        self._grammar = None

    def __enter__(self) -> Sampler:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

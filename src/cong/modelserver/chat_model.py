"""The GGUF chat model: loading, tokens, the KV cache and one-token decoding.

Not thread-safe: only the generation worker thread decodes; tokenizing (read-only on
the vocabulary) is safe from the event loop.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import time
from collections.abc import Callable

import llama_cpp
import numpy as np

from cong.modelserver.decode_threads import DecodeThreads, thread_candidates
from cong.modelserver.sampler import Sampler, SamplingParams

# ChatML, for GGUF files that carry no chat template.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class GenerationCancelled(Exception):
    """The request was cancelled (client gone) while the prompt was being evaluated."""


class ChatModel:
    def __init__(
        self,
        model_id: str,
        path: str,
        *,
        context_size: int,
        threads: int,
        adaptive_threads: bool = False,
    ) -> None:
        self.id = model_id
        self.path = path
        self.llm = llama_cpp.Llama(
            model_path=path,
            n_ctx=context_size,
            n_batch=512,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        self.threads = threads
        self.decode_threads = DecodeThreads(
            thread_candidates(threads) if adaptive_threads else [threads],
            lambda n: llama_cpp.llama_set_n_threads(self.llm.ctx, n, n),
        )
        self.n_ctx = int(self.llm.n_ctx())
        self.n_batch = int(self.llm.n_batch)
        vocab = self.llm._model.vocab
        self._vocab = vocab
        n_vocab = int(llama_cpp.llama_vocab_n_tokens(vocab))
        self.n_vocab = n_vocab
        self._pieces = [self._piece(token) for token in range(n_vocab)]
        self._eog = np.array(
            [bool(llama_cpp.llama_vocab_is_eog(vocab, t)) for t in range(n_vocab)], dtype=bool
        )
        self._control = np.array(
            [bool(llama_cpp.llama_vocab_is_control(vocab, t)) for t in range(n_vocab)],
            dtype=bool,
        )
        metadata = self.llm.metadata
        self.chat_template = metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE
        self.bos_id = int(self.llm.token_bos())
        self.eos_id = int(self.llm.token_eos())
        self.bos_text = self._special_text(self.bos_id)
        self.eos_text = self._special_text(self.eos_id)
        self.add_bos = metadata.get("tokenizer.ggml.add_bos_token", "false") == "true"
        self._batched = 0  # leading KV positions computed in batches of 2+ tokens
        stat = os.stat(path)
        digest = hashlib.sha256(f"{os.path.basename(path)}:{stat.st_size}".encode()).hexdigest()
        self.fingerprint = "fp_" + digest[:10]

    def _piece(self, token: int) -> bytes:
        size = 64
        while True:
            buffer = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, size, 0, False)
            if n >= 0:
                return buffer.raw[:n]
            size = -n

    def _special_text(self, token: int) -> str:
        if token < 0 or token >= self.n_vocab:
            return ""
        return self.llm.detokenize([token], special=True).decode("utf-8", "replace")

    # Tokens

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = False) -> list[int]:
        if not text:
            return [self.bos_id] if add_bos else []
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special))

    def tokenize_prompt(self, rendered: str) -> list[int]:
        """Tokens of a chat-templated prompt (special tokens parsed, BOS as the model says)."""
        add_bos = self.add_bos and not (self.bos_text and rendered.startswith(self.bos_text))
        return self.tokenize(rendered, add_bos=add_bos, special=True)

    def piece(self, token: int) -> bytes:
        return self._pieces[token]

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self._pieces[t] for t in tokens).decode("utf-8", "replace")

    def is_valid_token(self, token: int) -> bool:
        return 0 <= token < self.n_vocab

    def is_end(self, token: int) -> bool:
        """End of generation: an end-of-turn token, or any control token (a new turn)."""
        return bool(self._eog[token] or self._control[token])

    # Decoding (worker thread only)

    @property
    def n_past(self) -> int:
        return int(self.llm.n_tokens)

    def prime(self, prompt: list[int], cancelled: Callable[[], bool]) -> int:
        """Evaluate ``prompt`` reusing the longest cached prefix; returns the reused count.

        llama.cpp computes a lone token (batch of 1) with another kernel than a batch,
        and the results differ slightly. So that a seed gives the same text whatever the
        cache holds, prompts are only ever evaluated in batches of two or more tokens and
        only positions computed that way (earlier prompts, not generated tokens) are
        reused: the prompt's KV entries and logits are then bit-identical either way.
        """
        llm = self.llm
        reused = 0
        limit = min(self._batched, int(llm.n_tokens), len(prompt) - 2)
        if limit > 0:
            history = np.asarray(llm.input_ids[:limit])
            mismatch = np.flatnonzero(history != np.asarray(prompt[:limit], dtype=history.dtype))
            reused = int(mismatch[0]) if len(mismatch) else limit
        if reused and llm._ctx.kv_cache_seq_rm(-1, reused, -1):
            llm.n_tokens = reused
        else:
            llm.reset()
            reused = 0
        self._batched = min(self._batched, reused)
        for chunk in _batches(prompt[reused:], self.n_batch):
            if cancelled():
                raise GenerationCancelled
            llm.eval(chunk)
        self._batched = len(prompt) if len(prompt) > 1 else 0
        return reused

    def advance(self, token: int) -> None:
        """Append one sampled token to the context."""
        started = time.perf_counter()
        self.llm.eval([token])
        self.decode_threads.observe(time.perf_counter() - started)

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one model per process, lives forever
    def grammar_compiles(self, grammar: str) -> bool:
        sampler = llama_cpp.llama_sampler_init_grammar(
            self._vocab, grammar.encode("utf-8"), b"root"
        )
        if not sampler:
            return False
        llama_cpp.llama_sampler_free(sampler)
        return True

    def sampler(self, params: SamplingParams, *, seed: int, grammar: str | None) -> Sampler:
        return Sampler(self.llm._model, self.llm.ctx, params, seed=seed, grammar=grammar)


def _batches(tokens: list[int], size: int) -> list[list[int]]:
    """Chunks of at most ``size`` tokens, none of a single token (unless that is all)."""
    chunks = [tokens[i : i + size] for i in range(0, len(tokens), size)]
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-1].insert(0, chunks[-2].pop())
    return chunks

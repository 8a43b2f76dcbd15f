"""The GGUF chat model: loading, tokens, and one llama.cpp context shared by sequences.

The context holds up to ``parallel`` sequences in a KV cache of ``kv_cache_tokens``
cells: split into one stream per sequence when each can hold a full context
(``per_sequence``), else one pool they share. The batch engine (``batch_engine.py``) is
the only code that decodes with it, on its own thread. Tokenizing (read-only on the
vocabulary) is safe from any thread.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os

import llama_cpp
import numpy as np
from llama_cpp import _internals

from cong.modelserver import llama_log
from cong.modelserver.decode_threads import DecodeThreads, thread_candidates
from cong.modelserver.sampler import LogitsRows, Sampler, SamplingParams

# ChatML, for GGUF files that carry no chat template.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
N_BATCH = 512


class ChatModel:
    def __init__(
        self,
        model_id: str,
        path: str,
        *,
        context_size: int,
        threads: int,
        adaptive_threads: bool = False,
        parallel: int = 1,
        kv_cache_tokens: int = 0,
    ) -> None:
        self.id = model_id
        self.path = path
        llama_log.install()
        llama_cpp.llama_backend_init()
        model_params = llama_cpp.llama_model_default_params()
        # verbose=True: llama.cpp's output is not sent to /dev/null during the load (that
        # dropped the reason a file failed to load); llama_log keeps what is worth keeping.
        self._model = _internals.LlamaModel(path_model=path, params=model_params, verbose=True)
        self.n_ctx = context_size  # per sequence: prompt plus completion
        self.parallel = parallel
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = max(kv_cache_tokens, context_size)
        params.n_batch = N_BATCH
        params.n_ubatch = N_BATCH
        params.n_seq_max = parallel
        # Room for a full context in every slot: each sequence gets its own cells and
        # attends to them only (with one shared pool, every token of a batch reads the
        # cells of every sequence, masked). Otherwise the slots share one pool.
        self.per_sequence = parallel > 1 and params.n_ctx >= parallel * context_size
        params.kv_unified = not self.per_sequence
        params.n_threads = threads
        params.n_threads_batch = threads
        params.no_perf = True
        self._context = _internals.LlamaContext(model=self._model, params=params, verbose=False)
        self.ctx = self._context.ctx
        self.kv_cells = int(llama_cpp.llama_n_ctx(self.ctx))
        self.seq_cells = int(llama_cpp.llama_n_ctx_seq(self.ctx))  # one stream's cells
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.n_batch = N_BATCH
        self.threads = threads
        self.decode_threads = DecodeThreads(
            thread_candidates(threads) if adaptive_threads else [threads],
            lambda n: llama_cpp.llama_set_n_threads(self.ctx, n, n),
        )
        vocab = self._model.vocab
        self._vocab = vocab
        n_vocab = int(llama_cpp.llama_vocab_n_tokens(vocab))
        self.n_vocab = n_vocab
        self.logits = LogitsRows(self.ctx, n_vocab)
        self._pieces = [self._piece(token) for token in range(n_vocab)]
        self.max_piece_bytes = max((len(p) for p in self._pieces), default=1) or 1
        self._eog = np.array(
            [bool(llama_cpp.llama_vocab_is_eog(vocab, t)) for t in range(n_vocab)], dtype=bool
        )
        self._control = np.array(
            [bool(llama_cpp.llama_vocab_is_control(vocab, t)) for t in range(n_vocab)],
            dtype=bool,
        )
        self.control_texts = sorted(
            {self._special_text(int(t)) for t in np.flatnonzero(self._control | self._eog)} - {""},
            key=len,
            reverse=True,
        )
        metadata = self._model.metadata()
        self.chat_template = metadata.get("tokenizer.chat_template") or CHATML_TEMPLATE
        self.bos_id = int(self._model.token_bos())
        self.eos_id = int(self._model.token_eos())
        self.bos_text = self._special_text(self.bos_id)
        self.eos_text = self._special_text(self.eos_id)
        self.add_bos = metadata.get("tokenizer.ggml.add_bos_token", "false") == "true"
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
        return self._model.detokenize([token], special=True).decode("utf-8", "replace")

    # Tokens

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = False) -> list[int]:
        if not text:
            return [self.bos_id] if add_bos else []
        return list(self._model.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special))

    def tokenize_prompt(self, rendered: str) -> list[int]:
        """Tokens of a chat-templated prompt (special tokens parsed, BOS as the model says)."""
        return self.tokenize(rendered, add_bos=self.needs_bos(rendered), special=True)

    def needs_bos(self, rendered: str) -> bool:
        return self.add_bos and not (self.bos_text and rendered.startswith(self.bos_text))

    def piece(self, token: int) -> bytes:
        return self._pieces[token]

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self._pieces[t] for t in tokens).decode("utf-8", "replace")

    def is_valid_token(self, token: int) -> bool:
        return 0 <= token < self.n_vocab

    def is_end(self, token: int) -> bool:
        """End of generation: an end-of-turn token, or any control token (a new turn)."""
        return bool(self._eog[token] or self._control[token])

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
        return Sampler(self._model, self.logits, params, seed=seed, grammar=grammar)

    def close(self) -> None:
        self._context.close()
        self._model.close()

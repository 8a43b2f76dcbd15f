"""The loaded models and the engines that serve them: what request handlers share."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from cong.modelserver.batch_engine import BatchEngine, QueueFull
from cong.modelserver.chat_model import ChatModel
from cong.modelserver.chat_prompt import ChatTemplate
from cong.modelserver.embedding_model import EmbeddingModel
from cong.modelserver.generation import GenerationJob
from cong.modelserver.options import ServerOptions
from cong.modelserver.prompt_tokens import tokens_per_message
from cong.modelserver.watchdog import Watchdog
from cong.protocol.errors import APIError, invalid_request, model_not_found

log = logging.getLogger("cong.modelserver")
T = TypeVar("T")


@dataclass(frozen=True)
class ChatServing:
    """A chat model, its template and its batch engine."""

    model: ChatModel
    template: ChatTemplate
    engine: BatchEngine
    per_message: int  # fewest prompt tokens a message adds (a cheap length bound)

    @classmethod
    def of(cls, model: ChatModel, max_queue: int) -> ChatServing:
        template = ChatTemplate(
            model.chat_template, bos_token=model.bos_text, eos_token=model.eos_text
        )
        engine = BatchEngine(model, max_queue=max_queue)
        return cls(model, template, engine, tokens_per_message(model, template))


class ModelRuntime:
    def __init__(
        self,
        options: ServerOptions,
        chats: list[ChatModel],
        embeddings: EmbeddingModel | None,
    ) -> None:
        self.options = options
        self.chats = {m.id: ChatServing.of(m, options.max_queue) for m in chats}
        # Parsing, rendering and tokenizing run here, never on the event loop.
        self._prepare = ThreadPoolExecutor(max_workers=2, thread_name_prefix="prepare")
        self.embeddings = embeddings
        self.created = int(time.time())
        self.keepalive = options.keepalive_seconds
        self.max_output_tokens = options.max_output_tokens
        self.watchdog = Watchdog(
            lambda: [(s.model.id, s.engine) for s in self.chats.values()], options.stall_seconds
        )

    @property
    def stalled(self) -> str:
        """Why the decode loop is considered stuck, once it is (empty while it is not)."""
        return self.watchdog.stalled

    @classmethod
    def load(cls, options: ServerOptions) -> ModelRuntime:
        """Load the models (before the port opens, so /health answering means ready)."""
        chats: list[ChatModel] = []
        if options.chat:
            wanted: list[tuple[str, str, int | None]] = [
                (options.chat_model_id, options.resolved_chat_model_path(), None)
            ]
            wanted += [(m.id, m.path, m.context) for m in options.extra_chat_models]
            for model_id, path, context in wanted:
                started = time.perf_counter()
                size = context or options.context_size
                chats.append(
                    ChatModel(
                        model_id,
                        path,
                        context_size=size,
                        threads=options.thread_count,
                        adaptive_threads=options.threads == 0,
                        parallel=options.parallel,
                        kv_cache_tokens=options.kv_cells(size),
                    )
                )
                seconds = time.perf_counter() - started
                log.warning("chat model %s loaded in %.1f s", model_id, seconds)
        embeddings = None
        if options.embeddings:
            started = time.perf_counter()
            embeddings = EmbeddingModel(
                options.embedding_model_id,
                options.resolved_embedding_model_path(),
                batch_size=options.embedding_batch_size,
                onnx_cache=options.resolved_onnx_cache(),
            )
            log.warning(
                "embedding model %s loaded in %.1f s (short texts: %s)",
                embeddings.id,
                time.perf_counter() - started,
                embeddings.runtime,
            )
        return cls(options, chats, embeddings)

    async def prepare(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        call = functools.partial(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._prepare, call)

    def start(self) -> None:
        for serving in self.chats.values():
            serving.engine.start()
        self.watchdog.start()

    def abort_all(self, message: str) -> int:
        """Answer every running and waiting generation with a retryable error."""
        return sum(serving.engine.abort_all(message) for serving in self.chats.values())

    def stop(self) -> None:
        self.watchdog.stop()
        for serving in self.chats.values():
            serving.engine.stop()
        if self.embeddings is not None:
            self.embeddings.close()
        self._prepare.shutdown(wait=False, cancel_futures=True)

    # Model lookup

    @property
    def model_ids(self) -> list[str]:
        ids = list(self.chats)
        return [*ids, self.embeddings.id] if self.embeddings is not None else ids

    def chat_model(self, model: str) -> ChatServing:
        serving = self.chats.get(model)
        if serving is not None:
            return serving
        if self.embeddings is not None and model == self.embeddings.id:
            raise invalid_request(
                f"The model `{model}` is an embedding model: use it with /v1/embeddings.",
                param="model",
                code="model_not_supported",
            )
        raise model_not_found(model)

    def embedding_model(self, model: str) -> EmbeddingModel:
        if self.embeddings is not None and model == self.embeddings.id:
            return self.embeddings
        if model in self.chats:
            raise invalid_request(
                f"The model `{model}` is a chat model and does not produce embeddings.",
                param="model",
                code="model_not_supported",
            )
        raise model_not_found(model)

    def submit(self, engine: BatchEngine, job: GenerationJob) -> None:
        try:
            engine.submit(job)
        except QueueFull:
            raise busy(engine.max_queue) from None

    # Descriptions

    def model_card(self, model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": self.created, "owned_by": "cong"}

    def health(self) -> dict[str, Any]:
        now = time.monotonic()
        busy = any(s.engine.busy for s in self.chats.values())
        stalled = max(
            (now - s.engine.last_step_at for s in self.chats.values() if s.engine.busy),
            default=0.0,
        )
        body: dict[str, Any] = {
            "status": "stalled" if self.stalled else "ok",
            "models": self.model_ids,
            # The supervisor's watchdog: busy with no decode step for a while = stuck.
            "busy": busy,
            "progress": sum(s.engine.stats.steps for s in self.chats.values()),
            "seconds_since_progress": round(stalled, 3),
        }
        if self.stalled:
            body["reason"] = self.stalled
        if self.chats:
            chats = [_chat_health(s) for s in self.chats.values()]
            body["chat"] = chats[0]
            body["chat_models"] = chats
        if self.embeddings is not None:
            body["embeddings"] = {
                "model": self.embeddings.id,
                "dimensions": self.embeddings.dimensions,
                "max_input_tokens": self.embeddings.max_tokens,
                "short_texts": self.embeddings.runtime,  # onnxruntime or torch
            }
        return body


def _chat_health(serving: ChatServing) -> dict[str, Any]:
    model, engine = serving.model, serving.engine
    stats = engine.stats
    return {
        "model": model.id,
        "context_size": model.n_ctx,
        "kv_cache_tokens": model.kv_cells,
        "kv_cache_layout": "per-sequence" if model.per_sequence else "shared",
        "parallel": model.parallel,
        "decode_threads": model.decode_threads.current,
        "active": engine.active,
        "queued": engine.queued,
        "max_queue": engine.max_queue,
        "tokens_generated": stats.tokens_generated,
        "prompt_tokens_evaluated": stats.prompt_tokens_evaluated,
        "prompt_tokens_cached": stats.prompt_tokens_cached,
        "decode_steps": stats.steps,
        "jobs_completed": stats.jobs_completed,
        "jobs_cancelled": stats.jobs_cancelled,
    }


def busy(max_queue: int) -> APIError:
    return APIError(
        429,
        f"The model server is busy: {max_queue} requests are already waiting for this model. "
        "Retry in a moment.",
        type="server_error",
        code="server_busy",
        headers={"retry-after": "1"},
    )

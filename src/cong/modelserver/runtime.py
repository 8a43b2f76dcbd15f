"""The loaded models and the worker that serves them: what request handlers share."""

from __future__ import annotations

import logging
import time
from typing import Any

from cong.modelserver.chat_model import ChatModel
from cong.modelserver.chat_prompt import ChatTemplate
from cong.modelserver.embedding_model import EmbeddingModel
from cong.modelserver.generation import GenerationJob
from cong.modelserver.options import ServerOptions
from cong.modelserver.worker import GenerationWorker, QueueFull
from cong.protocol.errors import APIError, invalid_request, model_not_found, upstream_unavailable

log = logging.getLogger("cong.modelserver")


class ModelRuntime:
    def __init__(
        self,
        options: ServerOptions,
        chat: ChatModel | None,
        embeddings: EmbeddingModel | None,
    ) -> None:
        self.options = options
        self.chat = chat
        self.embeddings = embeddings
        self.created = int(time.time())
        self.keepalive = options.keepalive_seconds
        self.template = (
            ChatTemplate(chat.chat_template, bos_token=chat.bos_text, eos_token=chat.eos_text)
            if chat is not None
            else None
        )
        self.worker = (
            GenerationWorker(chat, max_queue=options.max_queue) if chat is not None else None
        )

    @classmethod
    def load(cls, options: ServerOptions) -> ModelRuntime:
        """Load the models (before the port opens, so /health answering means ready)."""
        chat = None
        if options.chat:
            started = time.perf_counter()
            chat = ChatModel(
                options.chat_model_id,
                options.resolved_chat_model_path(),
                context_size=options.context_size,
                threads=options.thread_count,
                adaptive_threads=options.threads == 0,
            )
            log.warning("chat model %s loaded in %.1f s", chat.id, time.perf_counter() - started)
        embeddings = None
        if options.embeddings:
            started = time.perf_counter()
            embeddings = EmbeddingModel(
                options.embedding_model_id,
                options.resolved_embedding_model_path(),
                batch_size=options.embedding_batch_size,
            )
            log.warning(
                "embedding model %s loaded in %.1f s", embeddings.id, time.perf_counter() - started
            )
        return cls(options, chat, embeddings)

    def start(self) -> None:
        if self.worker is not None:
            self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.embeddings is not None:
            self.embeddings.close()

    # Model lookup

    @property
    def model_ids(self) -> list[str]:
        return [m.id for m in (self.chat, self.embeddings) if m is not None]

    def chat_model(self, model: str) -> tuple[ChatModel, ChatTemplate, GenerationWorker]:
        if self.chat is not None and model == self.chat.id:
            assert self.template is not None and self.worker is not None
            return self.chat, self.template, self.worker
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
        if self.chat is not None and model == self.chat.id:
            raise invalid_request(
                f"The model `{model}` is a chat model and does not produce embeddings.",
                param="model",
                code="model_not_supported",
            )
        raise model_not_found(model)

    def submit(self, worker: GenerationWorker, job: GenerationJob) -> None:
        try:
            worker.submit(job)
        except QueueFull:
            raise busy(worker.max_queue) from None

    # Descriptions

    def model_card(self, model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": self.created, "owned_by": "cong"}

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ok", "models": self.model_ids}
        if self.chat is not None and self.worker is not None:
            stats = self.worker.stats
            body["chat"] = {
                "model": self.chat.id,
                "context_size": self.chat.n_ctx,
                "decode_threads": self.chat.decode_threads.current,
                "active": stats.active,
                "queued": self.worker.queued,
                "max_queue": self.worker.max_queue,
                "tokens_generated": stats.tokens_generated,
                "prompt_tokens_evaluated": stats.prompt_tokens_evaluated,
                "jobs_completed": stats.jobs_completed,
                "jobs_cancelled": stats.jobs_cancelled,
            }
        if self.embeddings is not None:
            body["embeddings"] = {
                "model": self.embeddings.id,
                "dimensions": self.embeddings.dimensions,
                "max_input_tokens": self.embeddings.max_tokens,
            }
        return body


def busy(max_queue: int) -> APIError:
    return upstream_unavailable(
        f"The model server is busy: {max_queue} requests are already waiting. Retry in a moment.",
        retry_after=1,
    )

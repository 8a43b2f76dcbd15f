"""``POST /v1/completions`` (legacy): raw prompts, no chat template."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cong.modelserver.chat_model import ChatModel
from cong.modelserver.generation import (
    ChoiceEnded,
    ChoiceStarted,
    ChoiceTask,
    GenerationJob,
    JobDone,
    JobFailed,
    TextDelta,
    collect_job,
)
from cong.modelserver.payloads import ResponseHeader, UsageCounter, text_choice, text_completion
from cong.modelserver.request_params import (
    base_seed,
    clamp_headers,
    output_budget,
    sampling_params,
    stop_sequences,
)
from cong.modelserver.responses import (
    EventStreamResponse,
    json_response,
    stop_watching,
    watch_disconnect,
)
from cong.modelserver.runtime import ChatServing, ModelRuntime
from cong.protocol.completions import CompletionRequest
from cong.protocol.errors import invalid_request
from cong.protocol.sse import DONE, KEEPALIVE, encode_json
from cong.protocol.validation import parse_json_object, validate

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for legacy completions


@dataclass(frozen=True)
class CompletionCall:
    request: CompletionRequest
    prompts: list[list[int]]
    echo: list[str]  # per prompt: its text when ``echo`` is set, else ""
    job: GenerationJob
    head: ResponseHeader
    headers: dict[str, str]

    @property
    def n(self) -> int:
        return self.request.n or 1

    def prompt_of(self, index: int) -> int:
        return index // self.n


def prompt_token_lists(prompt: Any, model: ChatModel) -> list[list[int]]:
    """The request's prompt(s) as token lists: strings are tokenized (special tokens
    parsed, as llama.cpp's server does), token arrays are checked against the vocabulary."""
    if prompt is None:
        prompt = "<|endoftext|>"
    if isinstance(prompt, str):
        items: list[Any] = [prompt]
    elif prompt and all(isinstance(t, int) for t in prompt):
        items = [prompt]
    else:
        items = list(prompt)
    if not items:
        raise invalid_request("'prompt' must not be an empty list.", param="prompt")
    lists: list[list[int]] = []
    for item in items:
        if isinstance(item, str):
            tokens = model.tokenize(item, add_bos=model.add_bos, special=True)
        else:
            bad = [t for t in item if not model.is_valid_token(t)]
            if bad:
                raise invalid_request(
                    f"Invalid token id {bad[0]} in 'prompt': this model's token ids are 0 to "
                    f"{model.n_vocab - 1}.",
                    param="prompt",
                )
            tokens = list(item)
        lists.append(tokens or [model.bos_id])
    return lists


async def completions(request: Request) -> Response:
    runtime: ModelRuntime = request.app.state.runtime
    raw = await request.body()
    loop = asyncio.get_running_loop()
    call, serving = await runtime.prepare(_prepare, raw, runtime, loop)
    runtime.submit(serving.engine, call.job)
    if call.request.stream:
        stream = _event_stream(call, runtime.keepalive)
        return EventStreamResponse(stream, call.job.abandon, call.headers)  # type: ignore[return-value]
    body = await _collect(call, request, runtime.keepalive)
    return json_response(body, headers=call.headers)


def _prepare(
    raw: bytes, runtime: ModelRuntime, loop: asyncio.AbstractEventLoop
) -> tuple[CompletionCall, ChatServing]:
    body = validate(CompletionRequest, parse_json_object(raw))
    serving = runtime.chat_model(body.model)
    model = serving.model
    prompts = prompt_token_lists(body.prompt, model)
    requested = DEFAULT_MAX_TOKENS if body.max_tokens is None else body.max_tokens
    params = sampling_params(body, n_vocab=model.n_vocab)
    seed = base_seed(body.seed)
    n = body.n or 1
    tasks = []
    budgets = []
    for p, tokens in enumerate(prompts):
        budget = output_budget(
            len(tokens), requested, model.n_ctx, param="prompt", cap=runtime.max_output_tokens
        )
        budgets.append(budget)
        tasks += [ChoiceTask(p * n + j, tokens, seed + j, budget.tokens) for j in range(n)]
    echo = [model.detokenize(tokens) if body.echo else "" for tokens in prompts]
    job = GenerationJob(
        tasks, params, stop_sequences(body.stop), loop=loop, streamed=bool(body.stream)
    )
    head = ResponseHeader.new("cmpl-", body.model, model.fingerprint)
    return CompletionCall(body, prompts, echo, job, head, clamp_headers(budgets)), serving


def _usage(call: CompletionCall) -> UsageCounter:
    return UsageCounter(prompt_tokens=sum(len(p) for p in call.prompts))


async def _collect(call: CompletionCall, request: Request, keepalive: float) -> dict[str, Any]:
    job = call.job
    texts: dict[int, list[str]] = {t.index: [call.echo[call.prompt_of(t.index)]] for t in job.tasks}
    usage = _usage(call)
    watcher = watch_disconnect(request.receive, job.abandon)
    try:
        reasons = await collect_job(job, texts, usage, keepalive)
    finally:
        await stop_watching(watcher)
        job.cancel()
    choices = [text_choice(i, "".join(parts), reasons.get(i, "stop")) for i, parts in texts.items()]
    body = text_completion(call.head, choices)
    body["usage"] = usage.as_dict(details=False)
    return body


async def _event_stream(call: CompletionCall, keepalive: float) -> AsyncGenerator[bytes, None]:
    job = call.job
    include_usage = call.request.wants_usage_in_stream
    usage = _usage(call)

    def chunk(index: int, text: str, reason: str | None = None) -> bytes:
        body = text_completion(call.head, [text_choice(index, text, reason)])
        if include_usage:
            body["usage"] = None
        return encode_json(body)

    try:
        while True:
            event = await job.next_event(keepalive)
            if isinstance(event, JobFailed):
                yield encode_json(event.error().body())
                yield DONE
                return
            if job.cancelled.is_set():
                return
            if event is None:
                yield KEEPALIVE
            elif isinstance(event, ChoiceStarted):
                echo = call.echo[call.prompt_of(event.index)]
                if echo:
                    yield chunk(event.index, echo)
            elif isinstance(event, TextDelta):
                yield chunk(event.index, event.text)
            elif isinstance(event, ChoiceEnded):
                usage.completion_tokens += event.completion_tokens
                yield chunk(event.index, "", event.finish_reason)
            elif isinstance(event, JobDone):
                break
        if include_usage:
            body = text_completion(call.head, [])
            body["usage"] = usage.as_dict(details=False)
            yield encode_json(body)
        yield DONE
    finally:
        job.cancel()

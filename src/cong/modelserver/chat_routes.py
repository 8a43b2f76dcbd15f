"""``POST /v1/chat/completions``: validate, build the prompt, queue the job, answer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from cong.modelserver.chat_model import ChatModel
from cong.modelserver.chat_prompt import ChatTemplate, check_text_only, template_messages
from cong.modelserver.chat_stream import chat_event_stream
from cong.modelserver.generation import (
    ChoiceTask,
    GenerationJob,
    collect_job,
)
from cong.modelserver.grammar import (
    JSON_OBJECT_GBNF,
    any_tool_call_grammar,
    response_format_grammar,
    tool_call_grammar,
)
from cong.modelserver.payloads import (
    ResponseHeader,
    UsageCounter,
    chat_completion,
    chat_message,
)
from cong.modelserver.prompt_tokens import chat_tokens, refuse_unfittable
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
from cong.modelserver.tool_calls import ParsedCall, parse_tool_calls
from cong.modelserver.tool_plan import ToolPlan, plan_tools
from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.validation import parse_json_object, validate


@dataclass(frozen=True)
class ChatCall:
    """A validated chat request and what the decode loop needs for it."""

    request: ChatCompletionRequest
    plan: ToolPlan
    prompt: list[int]
    job: GenerationJob
    head: ResponseHeader
    headers: dict[str, str]


def chat_prompt_tokens(
    request: ChatCompletionRequest, model: ChatModel, template: ChatTemplate, plan: ToolPlan
) -> list[int]:
    """The exact prompt tokens: messages (and tool descriptions) through the template,
    the messages' text never read as control tokens."""
    check_text_only(request.messages, request.model)
    return chat_tokens(model, template, template_messages(request.messages, plan))


async def chat_completions(request: Request) -> Response:
    runtime: ModelRuntime = request.app.state.runtime
    raw = await request.body()
    loop = asyncio.get_running_loop()
    call, serving = await runtime.prepare(_prepare, raw, runtime, loop)
    runtime.submit(serving.engine, call.job)
    if call.request.stream:
        stream = chat_event_stream(
            call.job,
            call.head,
            call.plan,
            n=len(call.job.tasks),
            prompt_tokens=len(call.prompt),
            include_usage=call.request.wants_usage_in_stream,
            keepalive=runtime.keepalive,
        )
        return EventStreamResponse(stream, call.job.abandon, call.headers)  # type: ignore[return-value]
    body = await _collect(call, request, runtime.keepalive)
    return json_response(body, headers=call.headers)


def _prepare(
    raw: bytes, runtime: ModelRuntime, loop: asyncio.AbstractEventLoop
) -> tuple[ChatCall, ChatServing]:
    """Parse, bound, validate, render and tokenize (on a preparation thread)."""
    data = parse_json_object(raw)
    model_id = data.get("model")
    serving = runtime.chats.get(model_id) if isinstance(model_id, str) else None
    if serving is not None:
        refuse_unfittable(data, serving.model, serving.per_message)
    body = validate(ChatCompletionRequest, data)
    serving = serving or runtime.chat_model(body.model)
    model = serving.model
    plan = plan_tools(body)
    prompt = chat_prompt_tokens(body, model, serving.template, plan)
    budget = output_budget(
        len(prompt), body.output_budget, model.n_ctx, param="messages",
        cap=runtime.max_output_tokens,
    )  # fmt: skip
    params = sampling_params(body, n_vocab=model.n_vocab)
    if plan.active and plan.mode == "required":
        grammar: str | None = tool_call_grammar(plan.tools)
        if not model.grammar_compiles(grammar):
            grammar = any_tool_call_grammar()
    else:
        grammar = response_format_grammar(body.response_format)
        if grammar is not None and not model.grammar_compiles(grammar):
            grammar = JSON_OBJECT_GBNF
    seed = base_seed(body.seed)
    tasks = [ChoiceTask(i, prompt, seed + i, budget.tokens) for i in range(body.n or 1)]
    job = GenerationJob(
        tasks,
        params,
        stop_sequences(body.stop),
        grammar,
        loop=loop,
        streamed=bool(body.stream),
        cache_prompt=(body.model_extra or {}).get("cache_prompt") is not False,
    )
    head = ResponseHeader.new("chatcmpl-", body.model, model.fingerprint)
    return ChatCall(body, plan, prompt, job, head, clamp_headers([budget])), serving


async def _collect(call: ChatCall, request: Request, keepalive: float) -> dict[str, object]:
    job = call.job
    texts: dict[int, list[str]] = {task.index: [] for task in job.tasks}
    usage = UsageCounter(prompt_tokens=len(call.prompt))
    watcher = watch_disconnect(request.receive, job.abandon)
    try:
        reasons = await collect_job(job, texts, usage, keepalive)
    finally:
        await stop_watching(watcher)
        job.cancel()
    choices = [
        _choice(index, "".join(parts), reasons.get(index, "stop"), call.plan)
        for index, parts in texts.items()
    ]
    return chat_completion(call.head, choices, usage)


def _choice(index: int, text: str, reason: str, plan: ToolPlan) -> dict[str, object]:
    content: str | None = text
    calls: list[ParsedCall] = []
    if plan.active:
        content, calls = parse_tool_calls(text, plan.names)
        if calls:
            reason = "function_call" if plan.legacy_functions else "tool_calls"
            content = content or None
    message = chat_message(content, calls, legacy_functions=plan.legacy_functions)
    return {"index": index, "message": message, "logprobs": None, "finish_reason": reason}

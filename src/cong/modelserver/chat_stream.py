"""The SSE body of a streamed chat completion, in OpenAI's chunk sequence:

role chunk → content chunks (one per token, as generated) → a chunk with the
finish_reason → (``include_usage``) a ``choices: []`` chunk with usage → ``[DONE]``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from cong.modelserver.generation import (
    ChoiceEnded,
    ChoiceStarted,
    GenerationJob,
    JobDone,
    JobFailed,
    TextDelta,
)
from cong.modelserver.payloads import (
    ResponseHeader,
    UsageCounter,
    chat_chunk,
    chunk_choice,
    tool_calls_payload,
)
from cong.modelserver.tool_calls import ParsedCall, ToolCallSniffer
from cong.modelserver.tool_plan import ToolPlan
from cong.protocol.sse import DONE, KEEPALIVE, encode_json


async def chat_event_stream(
    job: GenerationJob,
    head: ResponseHeader,
    plan: ToolPlan,
    *,
    n: int,
    prompt_tokens: int,
    include_usage: bool,
    keepalive: float,
) -> AsyncGenerator[bytes, None]:
    usage = UsageCounter(prompt_tokens=prompt_tokens)
    sniffers = {
        index: ToolCallSniffer(plan.names, forced=plan.mode == "required")
        for index in range(n)
        if plan.active
    }

    def chunk(index: int, delta: dict[str, Any], reason: str | None = None) -> bytes:
        choice = chunk_choice(index, delta, reason)
        return encode_json(chat_chunk(head, [choice], with_usage_field=include_usage))

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
                if event.index == 0:
                    usage.cached_tokens = event.cached_tokens
                yield chunk(event.index, {"role": "assistant", "content": "", "refusal": None})
            elif isinstance(event, TextDelta):
                sniffer = sniffers.get(event.index)
                text = sniffer.feed(event.text) if sniffer else event.text
                if text:
                    yield chunk(event.index, {"content": text})
            elif isinstance(event, ChoiceEnded):
                usage.completion_tokens += event.completion_tokens
                reason = event.finish_reason
                sniffer = sniffers.get(event.index)
                if sniffer is not None:
                    content, calls = sniffer.finish()
                    if content:
                        yield chunk(event.index, {"content": content})
                    if calls:
                        yield chunk(event.index, _calls_delta(calls, plan))
                        reason = "function_call" if plan.legacy_functions else "tool_calls"
                yield chunk(event.index, {}, reason)
            elif isinstance(event, JobDone):
                break
        if include_usage:
            yield encode_json(chat_chunk(head, [], with_usage_field=True, usage=usage.as_dict()))
        yield DONE
    finally:
        job.cancel()


def _calls_delta(calls: list[ParsedCall], plan: ToolPlan) -> dict[str, Any]:
    if plan.legacy_functions:
        return {"function_call": {"name": calls[0].name, "arguments": calls[0].arguments}}
    return {"tool_calls": tool_calls_payload(calls, streaming=True)}

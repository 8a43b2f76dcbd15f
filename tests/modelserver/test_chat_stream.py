"""The chat SSE sequence from generation events (pure: events are fed by hand)."""

from __future__ import annotations

import orjson

from cong.modelserver.chat_stream import chat_event_stream
from cong.modelserver.generation import (
    ChoiceEnded,
    ChoiceStarted,
    ChoiceTask,
    Event,
    GenerationJob,
    JobDone,
    JobFailed,
    TextDelta,
)
from cong.modelserver.payloads import ResponseHeader
from cong.modelserver.sampler import SamplingParams
from cong.modelserver.tool_plan import ToolPlan, plan_tools
from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.sse import DONE, KEEPALIVE


def _job(events: list[Event]) -> GenerationJob:
    job = GenerationJob([ChoiceTask(0, [1, 2], 1, 10)], SamplingParams())
    for event in events:
        job.events.put_nowait(event)
    return job


async def _collect(job: GenerationJob, plan: ToolPlan, *, keepalive: float = 5.0) -> list[bytes]:
    head = ResponseHeader.new("chatcmpl-", "m", "fp_x")
    stream = chat_event_stream(
        job, head, plan, n=1, prompt_tokens=2, include_usage=True, keepalive=keepalive
    )
    return [chunk async for chunk in stream]


def _data(chunk: bytes) -> dict:
    assert chunk.startswith(b"data: ")
    return dict(orjson.loads(chunk[6:]))


async def test_error_after_start_is_an_error_event_then_done() -> None:
    job = _job([ChoiceStarted(0, 0), TextDelta(0, "Hi"), JobFailed("boom")])
    chunks = await _collect(job, ToolPlan())
    assert _data(chunks[0])["choices"][0]["delta"] == {
        "role": "assistant",
        "content": "",
        "refusal": None,
    }
    assert _data(chunks[1])["choices"][0]["delta"] == {"content": "Hi"}
    assert _data(chunks[2])["error"]["message"] == "boom"
    assert chunks[3] == DONE and len(chunks) == 4
    assert job.cancelled.is_set()


async def test_usage_chunk_and_keepalive() -> None:
    job = _job([])
    head = ResponseHeader.new("chatcmpl-", "m", "fp_x")
    stream = chat_event_stream(
        job, head, ToolPlan(), n=1, prompt_tokens=2, include_usage=True, keepalive=0.01
    )
    assert await stream.__anext__() == KEEPALIVE
    for event in (ChoiceStarted(0, 1), TextDelta(0, "a"), ChoiceEnded(0, "stop", 2), JobDone()):
        job.events.put_nowait(event)
    chunks = [chunk async for chunk in stream]
    finishing, usage = _data(chunks[-3]), _data(chunks[-2])
    assert finishing["choices"][0]["finish_reason"] == "stop" and finishing["usage"] is None
    assert usage["choices"] == []
    assert usage["usage"]["prompt_tokens"] == 2 and usage["usage"]["completion_tokens"] == 2
    assert usage["usage"]["prompt_tokens_details"]["cached_tokens"] == 1
    assert chunks[-1] == DONE


async def test_streamed_text_call_becomes_tool_calls() -> None:
    request = ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "search"}}],
        }
    )
    call = '<tool_call>\n{"name": "search", "arguments": {"q": "hue"}}\n</tool_call>'
    events: list[Event] = [ChoiceStarted(0, 0)]
    events += [TextDelta(0, call[i : i + 5]) for i in range(0, len(call), 5)]
    events += [ChoiceEnded(0, "stop", 20), JobDone()]
    chunks = await _collect(_job(events), plan_tools(request))
    deltas = [_data(c)["choices"][0] for c in chunks[1:-2]]
    assert [d["delta"].get("content") for d in deltas if "content" in d["delta"]] == []
    (tool_delta,) = [d["delta"]["tool_calls"] for d in deltas if "tool_calls" in d["delta"]]
    assert tool_delta[0]["function"] == {"name": "search", "arguments": '{"q":"hue"}'}
    assert deltas[-1]["finish_reason"] == "tool_calls"

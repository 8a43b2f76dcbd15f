"""A fake OpenAI-compatible upstream that speaks the real wire format (JSON and SSE).

Behaviour is chosen by the requested model name:
``fake-echo`` answers with the request body it received as the message content,
``fake-parrot`` answers with the last message's text as it is (model output a test chooses),
``fake-facts`` answers ``{"facts": [...]}`` with each "User: …" line of the last message
(a JSON-constrained memory extractor),
``fake-500`` / ``fake-429`` / ``fake-400`` / ``fake-401`` answer with OpenAI error envelopes,
``fake-midstream-error`` streams two chunks then an error event,
``fake-slow`` streams one chunk every 0.2 s (50 in all) and records how many it sent,
``fake-paced`` streams one chunk every 0.2 s, as many as the last message's text says
(a number), ``fake-late`` waits 1 s before its first chunk, ``fake-stall`` stalls after one
chunk,
``fake-tools`` calls ``get_weather`` twice in parallel (arguments streamed in pieces)
unless the last message is a tool result; any model answers 400 with OpenAI's own words
when tool messages are out of order (an assistant message's ``tool_calls`` not followed
by a tool message for each id, or a tool message answering no preceding call),
``fake-files`` makes files when told to: offered a ``create_file`` tool, it calls it for
each of ``Recorder.files_to_create`` (in parallel, or one per answer with
``Recorder.one_file_per_answer``); after the tool results it answers "Done: " and what
they said; offered no tool, it writes each file as a fenced block with ``title="…"``,
anything else answers "Hello from fake" (3 stream chunks). ``/v1/completions`` answers
every prompt ``n`` times (usage counts ``best_of`` candidates per prompt, as OpenAI bills
them). ``/v1/responses`` (OpenAI's Responses API, served natively) answers "Hello from
fake" as a Response or as its typed events (``sequence_number`` counting from 0), usage
9 input / 3 output tokens, as chat does; ``fake-500`` answers a 500.
``Recorder.force_usage`` replaces the usage object of every chat answer.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Recorder:
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    slow_chunks_sent: int = 0
    slow_finished: bool = False
    # When set, every chat request is answered with this status (a failing upstream).
    force_status: int | None = None
    force_retry_after: str | None = None
    # When set, the usage object reported (JSON and stream) instead of the real one.
    force_usage: Any = None
    # The forced error's message, type and code (an upstream's own wording).
    force_message: str = "forced failure"
    force_type: str = "server_error"
    force_code: str | None = None
    # When set, every chat request is redirected (307) to this URL.
    redirect_to: str | None = None
    # When set, stream requests get a plain JSON completion (a misbehaving upstream).
    ignore_stream: bool = False
    # The bodies ``/v1/responses`` received, as sent.
    responses_requests: list[dict[str, Any]] = field(default_factory=list)
    # What ``fake-files`` makes: (file name, content).
    files_to_create: list[tuple[str, str]] = field(default_factory=lambda: list(FILES))
    one_file_per_answer: bool = False

    @property
    def chat_count(self) -> int:
        return sum(1 for r in self.requests if "messages" in r)


def _error(
    status: int, message: str, kind: str, code: str | None, headers: dict[str, str] | None = None
) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake123",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(9, 3),
        "service_tier": "default",
    }


def _chunk(
    model: str, delta: dict[str, Any], finish: str | None, with_usage: bool
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-fake123",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if with_usage:
        chunk["usage"] = None
    return chunk


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


TOOL_CALLS = [
    {
        "id": f"call_{city}",
        "type": "function",
        "function": {"name": "get_weather", "arguments": orjson.dumps({"city": city}).decode()},
    }
    for city in ("Paris", "Tokyo")
]


FILES = [("hello.py", 'print("xin chào")\n'), ("số liệu.csv", "tháng,doanh thu\n1,1500\n")]


def _file_calls(body: dict[str, Any], recorder: Recorder) -> list[dict[str, Any]]:
    """``fake-files``: the ``create_file`` calls to make now (none: answer in text)."""
    tools = body.get("tools") or []
    if not any((t.get("function") or {}).get("name") == "create_file" for t in tools):
        return []
    messages = body.get("messages") or [{}]
    done = sum(1 for m in messages if m.get("role") == "tool")
    if messages[-1].get("role") == "tool" and not recorder.one_file_per_answer:
        return []
    files = recorder.files_to_create[done:]
    if recorder.one_file_per_answer:
        files = files[:1]
    return [
        {
            "id": f"call_file{done + n}",
            "type": "function",
            "function": {
                "name": "create_file",
                "arguments": orjson.dumps({"name": name, "content": content}).decode(),
            },
        }
        for n, (name, content) in enumerate(files)
    ]


def _files_text(body: dict[str, Any], recorder: Recorder) -> str:
    messages = body.get("messages") or [{}]
    if messages[-1].get("role") == "tool":
        return "Done: " + " | ".join(str(m["content"]) for m in messages if m["role"] == "tool")
    blocks = [f'```text title="{n}"\n{c}```' for n, c in recorder.files_to_create]
    return "Here are your files.\n\n" + "\n\n".join(blocks)


def _tool_answer(
    model: str, body: dict[str, Any], calls: list[dict[str, Any]] = TOOL_CALLS
) -> Response:
    if not body.get("stream"):
        answer = _completion(model, "")
        answer["choices"][0]["message"].update(content=None, tool_calls=calls)
        answer["choices"][0]["finish_reason"] = "tool_calls"
        answer["usage"] = _usage(20, 8)
        return Response(orjson.dumps(answer), media_type="application/json")
    usage = bool((body.get("stream_options") or {}).get("include_usage"))
    events = [_chunk(model, {"role": "assistant", "content": None}, None, usage)]
    for index, call in enumerate(calls):
        arguments = call["function"]["arguments"]
        name = call["function"]["name"]
        head = {**call, "index": index, "function": {"name": name, "arguments": ""}}
        events.append(_chunk(model, {"tool_calls": [head]}, None, usage))
        for piece in (arguments[:5], arguments[5:]):
            delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
            events.append(_chunk(model, delta, None, usage))
    events.append(_chunk(model, {}, "tool_calls", usage))
    if usage:
        events.append({**_chunk(model, {}, None, False), "choices": [], "usage": _usage(20, 8)})
    data = b"".join(_sse(event) for event in events) + b"data: [DONE]\n\n"
    return Response(data, media_type="text/event-stream")


RESPONSE_TEXT = "Hello from fake"


def _response(body: dict[str, Any], status: str, text: str | None) -> dict[str, Any]:
    """A Response object (the official spec's shape), in progress (``text`` None) or
    completed."""
    output = []
    if text is not None:
        output = [_message_item("completed", text)]
    response: dict[str, Any] = {
        "id": "resp_fake123",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body.get("model", ""),
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "metadata": {},
    }
    if text is not None:  # in progress: no usage yet
        response["usage"] = {
            "input_tokens": 9,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 3,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 12,
        }
    return response


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(status: str, text: str | None) -> dict[str, Any]:
    content = [] if text is None else [_text_part(text)]
    return {
        "id": "msg_fake123",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def _response_events(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The typed events of a streamed Response, as OpenAI sends them."""
    pieces = ["Hello", " from", " fake"]
    at = {"item_id": "msg_fake123", "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response(body, "in_progress", None)},
        {"type": "response.in_progress", "response": _response(body, "in_progress", None)},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": _message_item("in_progress", None),
        },
        {"type": "response.content_part.added", **at, "part": _text_part("")},
        *[
            {"type": "response.output_text.delta", **at, "delta": piece, "logprobs": []}
            for piece in pieces
        ],
        {"type": "response.output_text.done", **at, "text": RESPONSE_TEXT, "logprobs": []},
        {"type": "response.content_part.done", **at, "part": _text_part(RESPONSE_TEXT)},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": _message_item("completed", RESPONSE_TEXT),
        },
        {"type": "response.completed", "response": _response(body, "completed", RESPONSE_TEXT)},
    ]
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


def tool_sequence_problem(messages: list[Any]) -> tuple[str, str] | None:
    """(message, param) of OpenAI's 400 for tool messages out of order, None if valid."""
    waiting: list[str] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        if message.get("role") == "tool":
            if message.get("tool_call_id") not in waiting:
                return (
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    f"messages.[{index}].role",
                )
            waiting.remove(message["tool_call_id"])
            continue
        if waiting:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not "
                "have response messages: " + ", ".join(waiting),
                f"messages.[{index}].role",
            )
        calls = message.get("tool_calls") if message.get("role") == "assistant" else None
        waiting = [str(c.get("id")) for c in calls or []]
    if waiting:
        return (
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'. The following tool_call_ids did not "
            "have response messages: " + ", ".join(waiting),
            f"messages.[{len(messages) - 1}].role",
        )
    return None


def create_fake_openai(recorder: Recorder) -> Starlette:
    def usage_of(prompt: int, completion: int) -> Any:
        forced = recorder.force_usage
        return forced if forced is not None else _usage(prompt, completion)

    async def chat(request: Request) -> Response:
        body = orjson.loads(await request.body())
        recorder.requests.append(body)
        recorder.headers.append(dict(request.headers))
        model = body.get("model", "")
        if recorder.redirect_to is not None:
            return Response(status_code=307, headers={"location": recorder.redirect_to})
        if recorder.force_status is not None:
            headers = (
                {"retry-after": recorder.force_retry_after} if recorder.force_retry_after else None
            )
            return _error(
                recorder.force_status,
                recorder.force_message,
                recorder.force_type,
                recorder.force_code,
                headers,
            )
        if model == "fake-500":
            return _error(500, "The server had an error", "server_error", None)
        if model == "fake-429":
            return _error(
                429, "Rate limit reached", "requests", "rate_limit_exceeded", {"retry-after": "7"}
            )
        if model == "fake-400":
            return _error(
                400,
                "This model's maximum context length is 10 tokens.",
                "invalid_request_error",
                "context_length_exceeded",
            )
        if model == "fake-401":
            return _error(
                401,
                "Incorrect API key provided: sk-upstr*****cret.",
                "invalid_request_error",
                "invalid_api_key",
            )
        messages = body.get("messages") or [{}]
        problem = tool_sequence_problem(messages)
        if problem is not None:
            envelope = {
                "error": {
                    "message": problem[0],
                    "type": "invalid_request_error",
                    "param": problem[1],
                    "code": None,
                }
            }
            return Response(orjson.dumps(envelope), 400, media_type="application/json")
        if model == "fake-tools" and messages[-1].get("role") != "tool":
            return _tool_answer(model, body)
        calls = _file_calls(body, recorder) if model == "fake-files" else []
        if calls:
            return _tool_answer(model, body, calls)
        if model == "fake-files":
            content = _files_text(body, recorder)
        elif model == "fake-echo":
            content = orjson.dumps(body).decode()
        elif model == "fake-facts":
            text = str((body.get("messages") or [{}])[-1].get("content", ""))
            facts = [line[6:] for line in text.splitlines() if line.startswith("User: ")]
            content = orjson.dumps({"facts": facts}).decode()
        elif model == "fake-parrot":
            content = str((body.get("messages") or [{}])[-1].get("content", ""))
        else:
            content = "Hello from fake"
        if not body.get("stream") or recorder.ignore_stream:
            answer = _completion(model, content)
            answer["usage"] = usage_of(9, 3)
            return Response(orjson.dumps(answer), media_type="application/json")
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = int(str(messages[-1].get("content"))) if model == "fake-paced" else 0
        stream = _stream(model, content, usage, chunks)
        return StreamingResponse(stream, media_type="text/event-stream")

    async def _stream(model: str, content: str, usage: bool, chunks: int = 0) -> Any:
        if model == "fake-late":
            await asyncio.sleep(1.0)  # a long queue or a slow first token
        if model == "fake-stall":
            yield _sse(_chunk(model, {"role": "assistant", "content": "Hel"}, None, usage))
            await asyncio.sleep(30)  # stalls mid-stream
            return
        yield _sse(_chunk(model, {"role": "assistant", "content": ""}, None, usage))
        if model == "fake-slow":
            for i in range(50):
                await asyncio.sleep(0.2)
                yield _sse(_chunk(model, {"content": f"t{i} "}, None, usage))
                recorder.slow_chunks_sent += 1
            recorder.slow_finished = True
        elif model == "fake-paced":
            for i in range(chunks):
                await asyncio.sleep(0.2)
                yield _sse(_chunk(model, {"content": f"p{i} "}, None, usage))
        else:
            pieces = ["Hello", " from", " fake"] if content == "Hello from fake" else [content]
            for i, piece in enumerate(pieces):
                yield _sse(_chunk(model, {"content": piece}, None, usage))
                if model == "fake-midstream-error" and i == 1:
                    yield _sse(
                        {
                            "error": {
                                "message": "upstream overloaded",
                                "type": "server_error",
                                "param": None,
                                "code": None,
                            }
                        }
                    )
                    return
        yield _sse(_chunk(model, {}, "stop", usage))
        if usage:
            yield _sse(
                {
                    "id": "chatcmpl-fake123",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "system_fingerprint": "fp_fake",
                    "choices": [],
                    "usage": usage_of(9, 3),
                }
            )
        yield b"data: [DONE]\n\n"

    async def embeddings(request: Request) -> Response:
        body = orjson.loads(await request.body())
        recorder.requests.append(body)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
            for i in range(len(inputs))
        ]
        return Response(
            orjson.dumps(
                {
                    "object": "list",
                    "data": data,
                    "model": body["model"],
                    "usage": {"prompt_tokens": 4, "total_tokens": 4},
                }
            ),
            media_type="application/json",
        )

    async def completions(request: Request) -> Response:
        body = orjson.loads(await request.body())
        recorder.requests.append(body)
        prompt = body.get("prompt", "")
        prompts = prompt if isinstance(prompt, list) and isinstance(prompt[0], str) else [prompt]
        n, best_of = body.get("n") or 1, body.get("best_of") or 1
        choices = [
            {"index": i, "text": "Hello from fake", "logprobs": None, "finish_reason": "stop"}
            for i in range(len(prompts) * n)
        ]
        answer = {
            "id": "cmpl-fake123",
            "object": "text_completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": choices,
            "usage": usage_of(3 * len(prompts), 3 * len(prompts) * max(n, best_of)),
        }
        return Response(orjson.dumps(answer), media_type="application/json")

    async def responses(request: Request) -> Response:
        body = orjson.loads(await request.body())
        recorder.responses_requests.append(body)
        recorder.headers.append(dict(request.headers))
        if body.get("model") == "fake-500":
            return _error(500, "The server had an error", "server_error", None)
        if not body.get("stream"):
            answer = _response(body, "completed", RESPONSE_TEXT)
            return Response(orjson.dumps(answer), media_type="application/json")
        data = b"".join(
            b"event: " + event["type"].encode() + b"\n" + _sse(event)
            for event in _response_events(body)
        )
        return Response(data, media_type="text/event-stream")

    async def models(_request: Request) -> Response:
        return Response(orjson.dumps({"object": "list", "data": []}), media_type="application/json")

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/responses", responses, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )

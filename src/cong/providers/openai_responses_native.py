"""OpenAI Responses passed through natively to an OpenAI-compatible upstream that serves
``/responses`` itself (a channel with ``native_responses``).

The client's Responses request reaches the upstream as it was sent (only ``model``
becomes the upstream's name), and the Response and its typed events go back as the
upstream wrote them. The gateway still meters it like a chat request: next to the native
answer it gets the chat view of it (the Responses ``usage`` as chat usage), and a stream's
items carry chat chunks for the tally with the native events riding along under
:data:`NATIVE`; the edge sends only the native part.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from cong.protocol.errors import APIError
from cong.protocol.stream import Events, Stream
from cong.providers.transport import HTTPTransport
from cong.providers.upstream_errors import error_from_stream_event

NATIVE = "responses_native"  # key of the native answer / events next to the chat view
GATEWAY_FIELDS = ("stream_options",)  # added by the gateway for chat upstreams
# A Response's status -> the chat finish reason the meter reads.
FINISH = {"completed": "stop", "incomplete": "length"}


def native_body(body: dict[str, Any], stream: bool) -> dict[str, Any]:
    request = {k: v for k, v in body.items() if k not in GATEWAY_FIELDS}
    if stream:
        request["stream"] = True
    else:
        request.pop("stream", None)
    return request


def chat_usage(usage: Any) -> dict[str, Any] | None:
    """A Responses ``usage`` object as chat usage (None when there is none)."""
    if not isinstance(usage, dict):
        return None
    cached = (usage.get("input_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0
    prompt, completion = usage.get("input_tokens"), usage.get("output_tokens")
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": usage.get("total_tokens"),
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _chat_view(response: dict[str, Any]) -> dict[str, Any]:
    finish = FINISH.get(str(response.get("status")), "stop")
    view: dict[str, Any] = {"choices": [{"index": 0, "finish_reason": finish}]}
    usage = chat_usage(response.get("usage"))
    if usage is not None:
        view["usage"] = usage
    return view


async def native_response(
    http: HTTPTransport, url: str, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """The upstream's Response under :data:`NATIVE`, with its chat usage and finish."""
    response = await http.post_json(url, native_body(body, False), headers)
    return {NATIVE: response, **_chat_view(response)}


def _failure(event: dict[str, Any], label: str) -> APIError:
    error = event.get("error") or (event.get("response") or {}).get("error") or {}
    wrapped = {"error": {"message": error.get("message") or "The upstream failed.", **error}}
    return error_from_stream_event(wrapped, label)


async def native_stream(
    http: HTTPTransport, url: str, headers: dict[str, str], body: dict[str, Any], label: str
) -> Stream:
    """The upstream's events, each read's worth in one item: a carrier chunk holding the
    native events under :data:`NATIVE`, and at ``response.completed`` (or
    ``response.incomplete``) the chat finish and usage for the tally; that item ends the
    stream."""
    batches = http.post_sse_batches(url, native_body(body, True), headers)
    async with aclosing(batches):
        async for batch in batches:
            native: list[dict[str, Any]] = []
            chunks: list[dict[str, Any]] = []
            end = False
            for _name, data in batch:
                if data == b"[DONE]":
                    continue
                event = http.decode_event(data)
                kind = event.get("type")
                if kind in ("error", "response.failed"):
                    if native:
                        yield Events(chunks=[_carrier(native)])
                    raise _failure(event, label)
                native.append(event)
                if kind == "response.output_text.delta" and isinstance(event.get("delta"), str):
                    delta = {"content": event["delta"]}  # measured if usage never comes
                    chunks.append({"choices": [{"index": 0, "delta": delta}]})
                if kind in ("response.completed", "response.incomplete"):
                    view = _chat_view(event.get("response") or {})
                    chunks.append({"object": "chat.completion.chunk", **view})
                    end = True
            if native:
                yield Events(chunks=[_carrier(native), *chunks], end=end)
            if end:
                return
        raise error_from_stream_event(
            {"error": {"message": "The upstream's stream ended before the response did."}},
            label,
        )


def _carrier(native: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "choices": [], NATIVE: native}

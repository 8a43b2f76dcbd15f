"""Anthropic Messages passed through natively to an Anthropic upstream.

A client's Messages request reaches an Anthropic channel as it was sent (only ``model``
becomes the upstream's name), so everything Anthropic offers and no translation can carry
works: prompt caching marks, server tools, signed thinking blocks, citations, betas. The
answer goes back as Anthropic wrote it (``model`` shown as the client asked).

The gateway still meters it like any chat request: next to the native answer it gets the
chat view of it (usage and finish reason, by :mod:`anthropic_translate` /
:mod:`anthropic_stream`), and a stream's items carry chat chunks for the tally with the
native events riding along under :data:`NATIVE`; the edge sends only the native part.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from cong.protocol.stream import Events, Stream
from cong.providers.anthropic_stream import StreamTranslator
from cong.providers.anthropic_translate import finish_reason, openai_usage
from cong.providers.transport import HTTPTransport

NATIVE = "anthropic_native"  # key of the native answer / events next to the chat view
GATEWAY_FIELDS = ("stream_options",)  # added by the gateway for chat upstreams


def native_body(body: dict[str, Any], stream: bool) -> dict[str, Any]:
    request = {k: v for k, v in body.items() if k not in GATEWAY_FIELDS}
    if stream:
        request["stream"] = True
    else:
        request.pop("stream", None)
    return request


async def native_message(
    http: HTTPTransport, url: str, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """The upstream's Message under :data:`NATIVE`, with its chat usage and finish."""
    message = await http.post_json(url, native_body(body, False), headers)
    return {
        NATIVE: message,
        "choices": [{"index": 0, "finish_reason": finish_reason(message.get("stop_reason"))}],
        "usage": openai_usage(message.get("usage") or {}),
    }


async def native_stream(
    http: HTTPTransport, url: str, headers: dict[str, str], body: dict[str, Any], label: str
) -> Stream:
    """The upstream's events, each read's worth in one item: chat chunks for the tally,
    the first (or a carrier chunk) holding the native events under :data:`NATIVE`."""
    translator = StreamTranslator(str(body.get("model", "")), label)
    batches = http.post_sse_batches(url, native_body(body, True), headers)
    async with aclosing(batches):
        async for batch in batches:
            native: list[dict[str, Any]] = []
            chunks: list[dict[str, Any]] = []
            for _name, data in batch:
                event = http.decode_event(data)
                native.append(event)
                chunks += translator.feed(event)  # raises on an ``error`` event
            if native:
                carrier: dict[str, Any] = {"object": "chat.completion.chunk", "choices": []}
                carrier[NATIVE] = native
                yield Events(chunks=[carrier, *chunks])
        tail = translator.end()  # raises if the stream was cut short
        if tail:
            yield Events(chunks=tail)

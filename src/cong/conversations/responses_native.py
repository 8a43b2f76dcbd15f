"""A Responses request passed through to an upstream that serves ``/v1/responses``
itself (:data:`~cong.gateway.operations.NATIVE_RESPONSES`): the upstream's Response and
typed events go back as it wrote them, with the model the client asked for and the
gateway's response id (so that ``/v1/responses/{id}`` and the usage log find it); with
``store`` the finished Response is kept as on the translated path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from typing import Any

from cong.protocol.errors import APIError
from cong.protocol.sse import encode_event
from cong.protocol.stream import Events, Stream
from cong.providers.openai_responses_native import NATIVE

Save = Callable[[dict[str, Any]], Awaitable[None]]
# Events whose ``response`` is the Response object as it stands.
RESPONSE_EVENTS = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
        "response.queued",
    }
)


def relabelled(response: dict[str, Any], response_id: str, model: str) -> dict[str, Any]:
    return {**response, "id": response_id, "model": model}


def native_answer(answer: dict[str, Any], response_id: str, model: str) -> dict[str, Any]:
    return relabelled(answer[NATIVE], response_id, model)


class NativeResponseStream:
    """Relays the upstream's events (a :class:`~cong.protocol.sse.StreamRenderer`),
    relabelled; :meth:`run` saves the completed Response before the item that completes
    it goes out."""

    def __init__(self, response_id: str, model: str, save: Save | None) -> None:
        self.response_id = response_id
        self.model = model
        self.save = save
        self.sequence = 0

    async def run(self, stream: Stream) -> Stream:
        async with aclosing(stream):
            async for item in stream:
                for event in self._native(item):
                    self.sequence = max(self.sequence, int(event.get("sequence_number") or 0))
                    if event.get("type") == "response.completed" and self.save is not None:
                        await self.save(event["response"])
                yield item

    def _native(self, item: Events) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in item.objects():
            for event in chunk.get(NATIVE) or ():
                if event.get("type") in RESPONSE_EVENTS and isinstance(event.get("response"), dict):
                    event["response"] = relabelled(event["response"], self.response_id, self.model)
                out.append(event)
        return out

    def events(self, events: Events) -> bytes:
        out = b""
        for chunk in events.objects():
            for event in chunk.get(NATIVE) or ():
                out += encode_event(str(event.get("type")), event)
        return out

    def error(self, error: APIError) -> bytes:
        code = "rate_limit_exceeded" if error.status == 429 else "server_error"
        self.sequence += 1
        event = {
            "type": "error",
            "sequence_number": self.sequence,
            "code": error.code or code,
            "message": error.message,
            "param": error.param,
        }
        return encode_event("error", event)

    def end(self) -> bytes:
        return b""

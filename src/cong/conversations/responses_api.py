"""``/v1/responses``: a Responses request runs as the gateway's ``responses`` operation
(the chat row under its own name: billing, limits, usage log, routing and failover are
chat's), its answer and stream are translated (:mod:`cong.protocol.responses_translate`,
:mod:`cong.protocol.responses_stream`), and with ``store`` the finished Response is kept
for its user (:mod:`.responses`) before the client sees it complete."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from cong.accounts.principal import Principal
from cong.conversations.responses import StoredResponses
from cong.conversations.responses_native import NativeResponseStream, native_answer
from cong.files.chat_files import FileChats
from cong.files.chat_parts import Expanded, name_the_images
from cong.gateway.operations import NATIVE_RESPONSES, RESPONSES
from cong.gateway.request import Edge
from cong.gateway.service import Gateway
from cong.protocol.errors import APIError
from cong.protocol.responses_input import chat_messages_of, input_items_of
from cong.protocol.responses_stream import ResponseEvents
from cong.protocol.responses_translate import (
    chat_messages_of_output,
    chat_request_from_responses,
    response_from_chat,
)
from cong.protocol.sse import encode_event
from cong.protocol.stream import Events, Stream
from cong.providers.base import Capability

EDGE = Edge("responses")  # answers are rendered here, not by the edge's defaults

Save = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class ResponsesResult:
    """A Response object, or a stream with the renderer of its events."""

    payload: dict[str, Any] | Stream
    renderer: ResponseStream | NativeResponseStream | None = None
    headers: dict[str, str] = field(default_factory=dict)


def response_id_of(request_id: str) -> str:
    """The Response's id: the request id's unique part (so the usage log finds it)."""
    return "resp_" + request_id.removeprefix("req_")


class ResponseStream:
    """Reads the gateway's stream of chat chunks, translating each item into Responses
    events as it passes (:meth:`run`), and renders them (a
    :class:`~cong.protocol.sse.StreamRenderer`). The finished Response is saved before the
    item that completes it goes out."""

    def __init__(self, translator: ResponseEvents, save: Save | None) -> None:
        self.translator = translator
        self.save = save
        self.started = False
        self.pending: list[list[dict[str, Any]]] = []

    async def run(self, stream: Stream) -> Stream:
        async with aclosing(stream):
            async for item in stream:
                events = self._start()
                for chunk in item.objects():
                    events += self.translator.feed(chunk)
                if item.end:
                    events += self.translator.end()
                    if self.save is not None and self.translator.response["status"] != "failed":
                        await self.save(self.translator.response)
                self.pending.append(events)
                yield item

    def _start(self) -> list[dict[str, Any]]:
        if self.started:
            return []
        self.started = True
        return self.translator.start()

    def events(self, events: Events) -> bytes:
        return _encode(self.pending.pop(0) if self.pending else [])

    def error(self, error: APIError) -> bytes:
        return _encode(self._start() + self.translator.error(error))

    def end(self) -> bytes:
        return _encode(self._start() + self.translator.end())


def _encode(events: list[dict[str, Any]]) -> bytes:
    return b"".join([encode_event(event["type"], event) for event in events])


def _has_input_files(input_: Any) -> bool:
    return isinstance(input_, list) and any(
        isinstance(item, dict)
        and isinstance(item.get("content"), list)
        and any(isinstance(p, dict) and p.get("type") == "input_file" for p in item["content"])
        for item in input_
    )


class ResponsesAPI:
    def __init__(
        self, gateway: Gateway, stored: StoredResponses, files: FileChats | None = None
    ) -> None:
        self.gateway = gateway
        self.stored = stored
        self.files = files

    async def create(
        self, principal: Principal, wire: dict[str, Any], request_id: str
    ) -> ResponsesResult:
        previous = wire.get("previous_response_id")
        history = await self.stored.history(principal, previous) if previous else []
        # Files are read here (as chat file parts), so such a request is translated.
        native = (
            not previous
            and not _has_input_files(wire.get("input"))
            and self._native(principal, wire)
        )
        expanded: Expanded | None = None
        if native:
            operation, body = NATIVE_RESPONSES, wire
        else:
            operation, body = RESPONSES, chat_request_from_responses(wire, history)
            if self.files is not None:
                expanded = await self.files.expand(principal, body)
                body = expanded.body
        request = await self.gateway.read(
            operation, body, principal, request_id, edge=EDGE, wire=wire
        )
        response_id = response_id_of(request_id)
        created = int(time.time())
        try:
            result = await self.gateway.serve(request)
        except APIError as error:
            raise (name_the_images(error, expanded) if expanded else error) from None
        conversation = [*history, *chat_messages_of(wire.get("input"))]
        store = wire.get("store", True) is not False

        async def save(response: dict[str, Any]) -> None:
            prefix = response_id.removeprefix("resp_")
            items = input_items_of(wire.get("input"), prefix)
            messages = [*conversation, *chat_messages_of_output(response["output"])]
            await self.stored.save(principal, response, items, messages)

        if native:
            if isinstance(result.payload, dict):
                response = native_answer(result.payload, response_id, request.model)
                if store:
                    await save(response)
                return ResponsesResult(response, None, result.headers)
            relay = NativeResponseStream(response_id, request.model, save if store else None)
            return ResponsesResult(relay.run(result.payload), relay, result.headers)
        if isinstance(result.payload, dict):
            response = response_from_chat(result.payload, wire, response_id, created, request.model)
            if store:
                await save(response)
            return ResponsesResult(response, None, result.headers)
        events = ResponseEvents(wire, response_id, created, request.model)
        renderer = ResponseStream(events, save if store else None)
        return ResponsesResult(renderer.run(result.payload), renderer, result.headers)

    def _native(self, principal: Principal, wire: dict[str, Any]) -> bool:
        """True when every route of the model serves Responses natively (a mixed set is
        translated, so that failover may use any of them)."""
        model = wire.get("model")
        if not isinstance(model, str) or not model:
            return False
        routes = self.gateway.catalog.authorize(principal, model, "chat")
        return all(Capability.RESPONSES in route.provider.capabilities for route in routes)

    async def retrieve(self, principal: Principal, response_id: str) -> dict[str, Any]:
        return await self.stored.get(principal, response_id)

    async def delete(self, principal: Principal, response_id: str) -> dict[str, Any]:
        return await self.stored.delete(principal, response_id)

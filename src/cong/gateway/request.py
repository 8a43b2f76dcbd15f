"""The request value that travels from the HTTP edge to the provider call: the
operation, the body and its validated form, the caller, the routes that may serve it,
and the edge that renders the answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cong.accounts.principal import Principal
from cong.channels.catalog import ModelRoute
from cong.gateway.operations import Body, Operation
from cong.protocol.errors import invalid_request
from cong.protocol.sse import OpenAIEvents, StreamRenderer
from cong.protocol.validation import validate

# Fields that would let a caller pick the upstream, its credentials or headers.
FORBIDDEN_FIELDS = (
    "api_base",
    "base_url",
    "api_key",
    "api_version",
    "extra_headers",
    "headers",
    "organization",
    "custom_llm_provider",
    "deployment_id",
)


def _as_is(body: Body) -> Body:
    return body


def _answer_as_is(answer: Body, request: GatewayRequest) -> Body:
    return answer


def _openai_events(request: GatewayRequest) -> StreamRenderer:
    return OpenAIEvents()


@dataclass(frozen=True, slots=True)
class Edge:
    """An endpoint's wire format around its operation. OpenAI's endpoints use
    :data:`OPENAI` (the operation's own format); another format (say Anthropic's
    Messages on top of chat) gives ``read`` (its body → the operation's body), ``answer``
    (the operation's answer → its own) and ``renderer`` (its stream events)."""

    name: str
    read: Callable[[Body], Body] = _as_is
    answer: Callable[[Body, GatewayRequest], Body] = _answer_as_is
    renderer: Callable[[GatewayRequest], StreamRenderer] = _openai_events


OPENAI = Edge("openai")


def _reject_routing_overrides(body: Body) -> None:
    for name in FORBIDDEN_FIELDS:
        if name in body:
            raise invalid_request(
                f"The field '{name}' is not allowed: the gateway chooses upstreams and "
                "their credentials.",
                param=name,
                code="forbidden_field",
            )


@dataclass(slots=True, kw_only=True)
class GatewayRequest:
    operation: Operation
    body: Body  # the operation's JSON body, forwarded to the upstream
    params: Any  # ``body`` validated (an instance of ``operation.schema``)
    principal: Principal
    request_id: str
    edge: Edge = OPENAI
    wire: Body = field(default_factory=dict)  # the client's body as sent
    model: str = ""  # the model id the client asked for
    stream: bool = False
    wants_usage: bool = False  # a stream ends with the usage chunk
    routes: list[ModelRoute] = field(default_factory=list)  # set by the gateway
    bounded: bool = False  # its prompt was checked against the model's context

    @classmethod
    def read(
        cls,
        operation: Operation,
        body: Body,
        principal: Principal,
        request_id: str,
        *,
        edge: Edge = OPENAI,
        wire: Body | None = None,
    ) -> GatewayRequest:
        """Check and validate ``body`` for ``operation`` (400 on a bad one)."""
        _reject_routing_overrides(body)
        params: Any = validate(operation.schema, body)
        stream = operation.stream is not None and bool(params.stream)
        return cls(
            operation=operation,
            body=body,
            params=params,
            principal=principal,
            request_id=request_id,
            edge=edge,
            wire=body if wire is None else wire,
            model=params.model,
            stream=stream,
            wants_usage=stream and params.wants_usage_in_stream,
        )

    def upstream_body(self, route: ModelRoute) -> Body:
        """The body for one route: its upstream's model name; a stream asks for usage."""
        body = dict(self.body)
        body["model"] = route.upstream_model
        if self.stream:
            options = self.body.get("stream_options") or {}
            body["stream_options"] = {**options, "include_usage": True}
        return body

"""The operations the gateway performs, one row each: which models serve it, what the
provider must offer, how the body is validated and estimated, and which provider call
answers it. An endpoint names its row; nothing dispatches on strings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from pydantic import BaseModel

from cong.billing import estimates
from cong.billing.pricing import Usage
from cong.channels.catalog import Kind, ModelRoute
from cong.gateway.prompt_bounds import (
    Prompt,
    anthropic_prompts,
    chat_prompts,
    completion_prompts,
    responses_prompts,
)
from cong.protocol.chat import ChatCompletionRequest
from cong.protocol.completions import CompletionRequest, EmbeddingRequest
from cong.protocol.errors import APIError, invalid_request
from cong.protocol.images import ImageRequest
from cong.protocol.messages import has_image
from cong.protocol.responses_request import ResponsesRequest
from cong.protocol.responses_translate import chat_request_from_responses
from cong.protocol.stream import Stream
from cong.providers.anthropic_inbound import MessagesRequest, chat_request_from_anthropic
from cong.providers.base import Capability, Provider

Body = dict[str, Any]


class Estimate(NamedTuple):
    prompt: int  # prompt tokens, for an answer without usage
    worst: Usage  # what the hold reserves
    capped: bool = True  # the request bounds its output (never charged past the hold)


# (body, default output tokens) -> the estimate before the call
Estimator = Callable[[Body, int], Estimate]


def _text_generation(body: Body, default_output: int) -> Estimate:
    prompt = estimates.prompt_tokens(body)
    completion = estimates.output_budget(body, default_output)
    worst = Usage(prompt_tokens=prompt, completion_tokens=completion)
    return Estimate(prompt, worst, estimates.has_output_limit(body))


def _embedding(body: Body, default_output: int) -> Estimate:
    prompt = estimates.embedding_tokens(body)
    return Estimate(prompt, Usage(prompt_tokens=prompt))


def _image(body: Body, default_output: int) -> Estimate:
    return Estimate(0, Usage(images=body.get("n") or 1))


def _any_route(params: Any, routes: list[ModelRoute]) -> list[ModelRoute]:
    return routes


def _vision_if_needed(params: Any, routes: list[ModelRoute]) -> list[ModelRoute]:
    """Routes that can read the request's images (all of them for a text request)."""
    if not has_image(params.messages):
        return routes
    routes = [r for r in routes if r.vision]
    if not routes:
        raise invalid_request(
            f"The model `{params.model}` does not support image inputs; send text "
            "only or choose a vision model.",
            param="messages",
            code="image_input_not_supported",
        )
    return routes


@dataclass(frozen=True, slots=True)
class Operation:
    name: str  # the usage log's endpoint
    kind: Kind  # the models that serve it
    capability: Capability  # what their provider must offer
    schema: type[BaseModel]  # validates the body
    estimate: Estimator
    call: Callable[[Provider, Body], Awaitable[Body]]
    stream: Callable[[Provider, Body], Stream] | None = None  # None: never streamed
    usable: Callable[[Any, list[ModelRoute]], list[ModelRoute]] = _any_route
    names_model: bool = True  # the answer shows the model id the client asked for
    counts_images: bool = False  # usage counts the images in the answer's ``data``
    # What the model reads as its prompt(s), to refuse one that cannot fit its context
    # (None: not checked), and the parameter such a refusal names.
    prompts: Callable[[Body], list[Prompt]] | None = None
    prompt_param: str = "messages"


CHAT = Operation(
    name="chat",
    kind="chat",
    capability=Capability.CHAT,
    schema=ChatCompletionRequest,
    estimate=_text_generation,
    call=lambda provider, body: provider.chat(body),
    stream=lambda provider, body: provider.stream_chat(body),
    usable=_vision_if_needed,
    prompts=chat_prompts,
)
COMPLETIONS = Operation(
    name="completions",
    kind="chat",
    capability=Capability.COMPLETIONS,
    schema=CompletionRequest,
    estimate=_text_generation,
    call=lambda provider, body: provider.completion(body),
    stream=lambda provider, body: provider.stream_completion(body),
    prompts=completion_prompts,
    prompt_param="prompt",
)
EMBEDDINGS = Operation(
    name="embeddings",
    kind="embedding",
    capability=Capability.EMBEDDINGS,
    schema=EmbeddingRequest,
    estimate=_embedding,
    call=lambda provider, body: provider.embed(body),
)
IMAGES = Operation(
    name="images",
    kind="image",
    capability=Capability.IMAGES,
    schema=ImageRequest,
    estimate=_image,
    call=lambda provider, body: provider.images(body),
    names_model=False,
    counts_images=True,
)
# Anthropic Messages and OpenAI Responses read as chat (translated at the edge): chat's
# row under their own names, so the usage log tells the APIs apart.
MESSAGES = replace(CHAT, name="messages")
RESPONSES = replace(CHAT, name="responses", prompt_param="input")


def _anthropic_generation(body: Body, default_output: int) -> Estimate:
    return _text_generation(chat_request_from_anthropic(body, server_tools=True), default_output)


# Anthropic Messages passed through as they are to upstreams that speak them.
NATIVE_MESSAGES = Operation(
    name="messages",
    kind="chat",
    capability=Capability.MESSAGES,
    schema=MessagesRequest,
    estimate=_anthropic_generation,
    call=lambda provider, body: provider.messages(body),
    stream=lambda provider, body: provider.stream_messages(body),
    prompts=anthropic_prompts,
)


def _responses_generation(body: Body, default_output: int) -> Estimate:
    """As the same request translated to chat; what the translation refuses (built-in
    tools, item types it does not read) is the upstream's to judge, so the estimate then
    counts the request's input, instructions and tools as text."""
    try:
        return _text_generation(chat_request_from_responses(body), default_output)
    except APIError:
        text = str([body.get("instructions"), body.get("input"), body.get("tools")])
        chat: Body = {"model": body.get("model"), "messages": [{"role": "user", "content": text}]}
        if isinstance(body.get("max_output_tokens"), int):
            chat["max_completion_tokens"] = body["max_output_tokens"]
        return _text_generation(chat, default_output)


# OpenAI Responses passed through as they are to upstreams that serve them.
NATIVE_RESPONSES = Operation(
    name="responses",
    kind="chat",
    capability=Capability.RESPONSES,
    schema=ResponsesRequest,
    estimate=_responses_generation,
    call=lambda provider, body: provider.responses(body),
    stream=lambda provider, body: provider.stream_responses(body),
    prompts=responses_prompts,
    prompt_param="input",
)

"""Response bodies in OpenAI's shapes and field order (chat, legacy completions)."""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from cong.modelserver.tool_calls import ParsedCall, new_call_id

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(29))


@dataclass
class UsageCounter:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    def as_dict(self, *, details: bool = True) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }
        if details:
            usage["prompt_tokens_details"] = {
                "cached_tokens": self.cached_tokens,
                "audio_tokens": 0,
            }
            usage["completion_tokens_details"] = {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            }
        return usage


@dataclass(frozen=True)
class ResponseHeader:
    """What every chunk and body of one response shares."""

    id: str
    model: str
    fingerprint: str
    created: int

    @classmethod
    def new(cls, prefix: str, model: str, fingerprint: str) -> ResponseHeader:
        return cls(new_id(prefix), model, fingerprint, int(time.time()))


def tool_calls_payload(calls: list[ParsedCall], *, streaming: bool) -> list[dict[str, Any]]:
    payload: list[dict[str, Any]] = []
    for position, call in enumerate(calls):
        item: dict[str, Any] = {"index": position} if streaming else {}
        item.update(
            {
                "id": new_call_id(),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
        )
        payload.append(item)
    return payload


def chat_message(
    content: str | None, calls: list[ParsedCall], *, legacy_functions: bool
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls and legacy_functions:
        message["function_call"] = {"name": calls[0].name, "arguments": calls[0].arguments}
    elif calls:
        message["tool_calls"] = tool_calls_payload(calls, streaming=False)
    message["annotations"] = []
    return message


def chat_completion(
    head: ResponseHeader, choices: list[dict[str, Any]], usage: UsageCounter
) -> dict[str, Any]:
    return {
        "id": head.id,
        "object": "chat.completion",
        "created": head.created,
        "model": head.model,
        "choices": choices,
        "usage": usage.as_dict(),
        "service_tier": "default",
        "system_fingerprint": head.fingerprint,
    }


def chat_chunk(
    head: ResponseHeader,
    choices: list[dict[str, Any]],
    *,
    with_usage_field: bool,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": head.id,
        "object": "chat.completion.chunk",
        "created": head.created,
        "model": head.model,
        "service_tier": "default",
        "system_fingerprint": head.fingerprint,
        "choices": choices,
    }
    if with_usage_field:
        chunk["usage"] = usage
    return chunk


def chunk_choice(index: int, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}


def text_completion(head: ResponseHeader, choices: list[dict[str, Any]]) -> dict[str, Any]:
    """A legacy completion body or chunk (the caller adds ``usage`` when it applies)."""
    return {
        "id": head.id,
        "object": "text_completion",
        "created": head.created,
        "model": head.model,
        "choices": choices,
        "system_fingerprint": head.fingerprint,
    }


def text_choice(index: int, text: str, finish_reason: str | None) -> dict[str, Any]:
    return {"index": index, "text": text, "logprobs": None, "finish_reason": finish_reason}

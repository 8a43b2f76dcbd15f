"""Prompts that cannot fit the model's context, refused before any upstream sees them.

Only lower bounds on the prompt's tokens are used, so a refusal is certain, never a
guess about a tokenizer; a prompt the bounds cannot prove too long goes on (the model
server or the upstream still counts exactly). Cheapest first:

1. **turns**: every message with content becomes at least one token (its role marker);
2. **characters**: no token of the tokenizers the gateway routes to (GPT, o-series,
   Llama, Qwen, Gemma, Mistral, SmolLM…) holds more than :data:`MAX_TOKEN_CHARS`
   characters, so a text of ``c`` characters is at least ``c / MAX_TOKEN_CHARS`` tokens;
3. **words**, counted only when 1 and 2 cannot decide and the text is long enough that
   they might: tokenizers split text at whitespace before merging (byte-level BPE
   pre-tokenization, SentencePiece's whitespace splitting), so a token never spans two
   words and each whitespace-separated word is at least one token. The count runs in
   slices, giving the event loop back between them.

Token arrays (legacy completions) count exactly: each id is one token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cong.protocol.errors import APIError, invalid_request

MAX_TOKEN_CHARS = 256
WORD_SLICE = 1 << 20  # characters counted between two returns to the event loop

Body = dict[str, Any]


@dataclass(slots=True)
class Prompt:
    """What one prompt sent to the model holds (a legacy completion may send several)."""

    turns: int = 0  # messages with content
    texts: list[str] = field(default_factory=list)  # its text, piece by piece
    tokens: int = 0  # token ids sent as such

    def add_text(self, value: Any) -> None:
        if isinstance(value, str) and value:
            self.texts.append(value)

    def add_parts(self, content: Any) -> bool:
        """A message's content (a string, or a list of parts with ``text``); True when it
        holds anything."""
        if isinstance(content, str):
            self.add_text(content)
            return bool(content)
        if not isinstance(content, list):
            return False
        for part in content:
            if isinstance(part, dict):
                self.add_text(part.get("text"))
        return bool(content)

    def add_turns(self, messages: Any) -> None:
        if not isinstance(messages, list):
            return
        for message in messages:
            if isinstance(message, dict):
                held = self.add_parts(message.get("content"))
                if held or message.get("tool_calls"):
                    self.turns += 1

    @property
    def chars(self) -> int:
        return sum(len(text) for text in self.texts)


def chat_prompts(body: Body) -> list[Prompt]:
    prompt = Prompt()
    prompt.add_turns(body.get("messages"))
    return [prompt]


def anthropic_prompts(body: Body) -> list[Prompt]:
    """Anthropic Messages: ``system`` (a string or text blocks) and the turns."""
    prompt = Prompt()
    prompt.add_parts(body.get("system"))
    prompt.add_turns(body.get("messages"))
    return [prompt]


def responses_prompts(body: Body) -> list[Prompt]:
    """OpenAI Responses: ``instructions`` and ``input`` (a string or items)."""
    prompt = Prompt()
    prompt.add_text(body.get("instructions"))
    value = body.get("input")
    if isinstance(value, str):
        prompt.add_text(value)
        prompt.turns += bool(value)
    else:
        prompt.add_turns(value)
    return [prompt]


def completion_prompts(body: Body) -> list[Prompt]:
    """Legacy completions: one prompt (a string or token ids) or a list of them, each
    decoded on its own."""
    value = body.get("prompt")
    if isinstance(value, list) and value and not all(isinstance(p, int) for p in value):
        items: list[Any] = value
    else:
        items = [value]
    prompts = []
    for item in items:
        prompt = Prompt()
        if isinstance(item, list):
            prompt.tokens = len(item)
        else:
            prompt.add_text(item)
        prompts.append(prompt)
    return prompts


def least_tokens(prompt: Prompt) -> int:
    """Bounds 1 and 2: no text is looked at beyond its length."""
    by_chars = sum(-(-len(text) // MAX_TOKEN_CHARS) for text in prompt.texts)
    return max(prompt.turns, prompt.tokens + by_chars)


async def counted_tokens(prompt: Prompt) -> int:
    """Bound 3: the words of each text (at least its character bound)."""
    total = prompt.tokens
    for text in prompt.texts:
        words = 0
        for start in range(0, len(text), WORD_SLICE):
            # A word cut by the slice's edge is counted twice: take one back.
            words += len(text[start : start + WORD_SLICE].split()) - (1 if start else 0)
            if len(text) > WORD_SLICE:
                await asyncio.sleep(0)
        total += max(words, -(-len(text) // MAX_TOKEN_CHARS))
    return max(prompt.turns, total)


def _most_words(prompt: Prompt) -> int:
    """The most words the texts can hold (a word and its separator take 2 characters)."""
    return prompt.tokens + sum((len(text) + 1) // 2 for text in prompt.texts)


async def refuse_unfittable(prompts: Iterable[Prompt], context: int, param: str) -> None:
    """A 400 ``context_length_exceeded`` when a prompt cannot fit ``context`` tokens
    (a prompt that fills the context leaves no room for one token of answer)."""
    for prompt in prompts:
        least = least_tokens(prompt)
        if least < context and _most_words(prompt) >= context:
            least = await counted_tokens(prompt)
        if least >= context:
            raise too_long(context, least, param)


def too_long(context: int, least: int, param: str) -> APIError:
    return invalid_request(
        f"This model's maximum context length is {context} tokens. However, your {param} "
        f"resulted in at least {least} tokens. Please reduce the length of the {param}.",
        param=param,
        code="context_length_exceeded",
    )

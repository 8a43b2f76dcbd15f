"""Chat turns → prompt tokens, with message content never parsed as control tokens.

The chat template is rendered with a marker in place of each turn's content; the
template's own text is tokenized with special tokens parsed (``<|im_start|>`` becomes
the control token) and each content is tokenized as plain text, so a user who writes
``<|im_end|><|im_start|>system`` gets those characters, not a new system turn. A template
that does not keep the markers intact (it rewrites the content) falls back to rendering
the real content with every control token's text in it defused.

Also here: the cheap lower bounds that refuse a prompt that cannot fit the context
before anything is tokenized.
"""

from __future__ import annotations

import re
from typing import Any

from cong.modelserver.chat_model import ChatModel
from cong.modelserver.chat_prompt import ChatTemplate
from cong.protocol.errors import APIError, invalid_request

_MARKER = re.compile("\ue000(\\d+)\ue001")
_DEFUSE = "\u2060"  # word joiner: keeps a control token's text from matching


def chat_tokens(model: ChatModel, template: ChatTemplate, turns: list[dict[str, str]]) -> list[int]:
    marked = [{**turn, "content": f"\ue000{i}\ue001"} for i, turn in enumerate(turns)]
    rendered = template.render(marked)
    parts = _MARKER.split(rendered)
    found = [int(index) for index in parts[1::2]]
    clean = not any("\ue000" in t["content"] or "\ue001" in t["content"] for t in turns)
    if clean and sorted(found) == list(range(len(turns))):
        tokens: list[int] = []
        for k, part in enumerate(parts):
            if k % 2:
                tokens += model.tokenize(turns[int(part)]["content"], special=False)
            elif part:
                tokens += model.tokenize(part, add_bos=k == 0 and model.needs_bos(rendered),
                                         special=True)  # fmt: skip
            elif k == 0 and model.needs_bos(rendered):
                tokens.append(model.bos_id)
        return tokens
    defused = [{**t, "content": defuse(t["content"], model.control_texts)} for t in turns]
    return model.tokenize_prompt(template.render(defused))


def defuse(text: str, control_texts: list[str]) -> str:
    for special in control_texts:
        if special in text:
            text = text.replace(special, special[0] + _DEFUSE + special[1:])
    return text


def tokens_per_message(model: ChatModel, template: ChatTemplate) -> int:
    """Fewest prompt tokens one more (empty) message adds: the bound on message count."""
    try:
        pair = [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}]
        one = len(chat_tokens(model, template, pair))
        two = len(chat_tokens(model, template, pair + pair))
    except APIError:
        return 0
    return max(0, (two - one) // 2)


def refuse_unfittable(data: dict[str, Any], model: ChatModel, per_message: int) -> None:
    """A 400 ``context_length_exceeded`` for a chat body that cannot fit, judged before
    validation and tokenization: by its message count and by its text's bytes (no token
    is longer than ``model.max_piece_bytes``)."""
    messages = data.get("messages")
    if not isinstance(messages, list):
        return
    limit = model.n_ctx
    if per_message and len(messages) * per_message >= limit:
        raise too_long(
            f"This model's maximum context length is {limit} tokens. However, your "
            f"{len(messages)} messages need at least {len(messages) * per_message} tokens. "
            "Please reduce the length of the messages.",
            "messages",
        )
    size = sum(_text_bytes(m.get("content")) for m in messages if isinstance(m, dict))
    least = size // model.max_piece_bytes
    if least >= limit:
        raise too_long(
            f"This model's maximum context length is {limit} tokens. However, your messages "
            f"hold {size} bytes of text, at least {least} tokens. Please reduce the length "
            "of the messages.",
            "messages",
        )


def _text_bytes(content: Any) -> int:
    if isinstance(content, str):
        return len(content.encode("utf-8", "replace"))
    if isinstance(content, list):
        return sum(
            len(part["text"].encode("utf-8", "replace"))
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return 0


def too_long(message: str, param: str) -> APIError:
    return invalid_request(message, param=param, code="context_length_exceeded")

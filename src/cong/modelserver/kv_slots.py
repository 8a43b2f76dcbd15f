"""The sequences of the KV cache ("slots") and what each is decoding.

A slot is one llama.cpp sequence id. It keeps the tokens its KV cells hold after a
request ends, so the next request with the same prefix (a system prompt, the earlier
turns of a conversation) starts where they diverge: the prefix cache. With a cache
stream per slot, a request can also start from a copy of another slot's cells (the same
system prompt for many users at once).

Only positions computed in batches of two or more tokens (prompt positions, never the
generated tokens, which are decoded one per sequence) are reused: llama.cpp computes a
lone token with another kernel, so this keeps a seeded request's text independent of
what the cache held.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cong.modelserver.generation import ChoiceTask, GenerationJob
from cong.modelserver.sampler import Sampler
from cong.modelserver.text_stream import TextAssembler


@dataclass
class Choice:
    """One choice of a job, admitted to a slot."""

    job: GenerationJob
    task: ChoiceTask
    sampler: Sampler
    assembler: TextAssembler
    pending: list[int]  # prompt tokens still to evaluate
    cached: int  # prompt tokens reused from the slot's cache
    pieces: list[str] | None  # None when streamed (text is emitted as it comes)
    generated: int = 0
    last: int | None = None  # sampled, not yet in the KV cache
    batch_index: int = -1  # where its logits are in the current batch, -1 for none

    @property
    def prefilling(self) -> bool:
        return bool(self.pending)


@dataclass
class Slot:
    seq_id: int
    tokens: list[int] = field(default_factory=list)  # what the KV cells hold, by position
    reusable: int = 0  # leading tokens computed in batches (see the module docstring)
    choice: Choice | None = None
    used_at: float = 0.0


def common_prefix(cached: list[int], prompt: list[int]) -> int:
    n = min(len(cached), len(prompt))
    if n == 0:
        return 0
    differ = np.flatnonzero(np.asarray(cached[:n]) != np.asarray(prompt[:n]))
    return int(differ[0]) if len(differ) else n


def reusable_prefix(slot: Slot, prompt: list[int]) -> int:
    """Cached tokens ``prompt`` can start from (at least two prompt tokens stay to be
    evaluated, so the last prompt position's logits are computed in a batch)."""
    limit = min(slot.reusable, len(slot.tokens), len(prompt) - 2)
    return common_prefix(slot.tokens[:limit], prompt) if limit > 0 else 0


def pick_slot(free: list[Slot], prompt: list[int]) -> tuple[Slot, int]:
    """The free slot sharing the longest prefix with ``prompt``; on a tie the one used
    longest ago, so recently used caches survive."""
    best = max(free, key=lambda s: (reusable_prefix(s, prompt), -s.used_at))
    return best, reusable_prefix(best, prompt)


def cache_start(
    slots: list[Slot], slot: Slot, prompt: list[int], copy_gain: int | None
) -> tuple[Slot | None, int]:
    """Where ``prompt`` starts in ``slot``: after its own cached prefix, or, when caches
    can be copied between slots (``copy_gain`` set), after a copy of another slot's
    cells (running or idle) if they hold at least ``copy_gain`` more of its start.
    Returns the slot to copy from (None: none) and the prompt tokens already cached."""
    own = reusable_prefix(slot, prompt)
    if copy_gain is None or len(slots) < 2:
        return None, own
    best = max((s for s in slots if s is not slot), key=lambda s: reusable_prefix(s, prompt))
    shared = reusable_prefix(best, prompt)
    return (best, shared) if shared >= own + copy_gain else (None, own)


def prompt_chunk(pending: int, room: int) -> int:
    """Prompt tokens to evaluate now: at most ``room``, never leaving one token alone for
    a later batch (a one-token batch is computed by another kernel)."""
    take = min(pending, room)
    if take < pending and pending - take == 1:
        take -= 1
    if take == 1 and pending > 1:
        return 0
    return max(take, 0)

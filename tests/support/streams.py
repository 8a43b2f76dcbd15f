"""Reading a provider's stream (items of :class:`~cong.protocol.stream.Events`) as the
chunks it carries."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from cong.protocol.stream import Stream


async def chunks(stream: Stream) -> AsyncGenerator[dict[str, Any], None]:
    """The stream's chunks one by one, decoded; closing this closes the stream."""
    async with aclosing(stream):
        async for item in stream:
            for chunk in item.objects():
                yield chunk

"""Builds the memory services of one app from the settings (called at start-up)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cong.accounts.principal import Principal
from cong.channels.catalog_loader import CatalogLoader
from cong.channels.routing import Router
from cong.gateway.operations import CHAT
from cong.gateway.request import GatewayRequest
from cong.gateway.service import Gateway, Result
from cong.memory.chat_turns import ChatMemory
from cong.memory.conversations import Conversations
from cong.memory.embedder import GatewayEmbedder
from cong.memory.extraction import Extractor
from cong.memory.mode_settings import MemoryModes
from cong.memory.store import Memories
from cong.settings import Settings
from cong.storage.database import Database


@dataclass
class MemoryServices:
    chat: ChatMemory
    conversations: Conversations
    modes: MemoryModes
    extractor: Extractor | None

    async def close(self) -> None:
        await self.chat.close()
        if self.extractor is not None:
            await self.extractor.close()
        await self.chat.memories.close()


def build_memory(
    db: Database,
    settings: Settings,
    loader: CatalogLoader,
    router: Router,
    gateway: Gateway,
    on_mode_change: Callable[[], None],
) -> MemoryServices:
    config = settings.memory

    async def chat(principal: Principal, body: dict[str, Any], request_id: str) -> Result:
        """A chat request of the memory service itself (a summary, an extraction),
        served, limited and billed like the user's own."""
        return await gateway.serve(GatewayRequest.read(CHAT, body, principal, request_id))

    memories = Memories(db, GatewayEmbedder(loader, router, config.embedding_model))
    extractor = (
        Extractor(memories, chat, config.extractor_model, config.dedup_similarity)
        if config.extractor_model
        else None
    )

    async def context_of(model: str) -> int | None:
        """The context of the model a request names (or the model its alias names): what
        the gateway bounds prompts by, the catalogue's (an embedded model's own
        ``context``, an admin's correction winning). None when unknown."""
        catalog = loader.catalog
        routes = catalog.routes.get(model) or catalog.routes.get(catalog.aliases.get(model, ""))
        return await gateway.context_length(routes[0]) if routes else None

    chat_memory = ChatMemory(
        db,
        memories,
        config,
        chat,
        context_of,
        after_turn=extractor.after_turn if extractor is not None else None,
    )
    return MemoryServices(
        chat_memory,
        Conversations(db, chat_memory.writer),
        MemoryModes(db, config, on_mode_change),
        extractor,
    )

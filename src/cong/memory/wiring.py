"""Builds the memory services of one app from the settings (called at start-up)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cong.accounts.principal import Principal
from cong.catalogue.model_info import known_info
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
    embedded_chat = settings.model_server.chat_model

    def context_of(model: str) -> int | None:
        target = loader.catalog.aliases.get(model, model)
        if target == embedded_chat:
            return settings.model_server.context_size
        return known_info(target, "chat", False).context_length

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

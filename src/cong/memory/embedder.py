"""Memory vectors come from the gateway's own embedding model (by default the embedded
``all-minilm-l6-v2``, served by the model server as the ``embedded`` channel), called
through the catalog's routes like any embedding request, but not billed: memory upkeep
is part of the service. A failure gives no vectors (retrieval then uses full text)."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import numpy as np

from cong.channels.catalog import ModelRoute
from cong.channels.catalog_loader import CatalogLoader
from cong.channels.routing import Router
from cong.memory.vectors import normalised

log = logging.getLogger("cong.memory")


class Embedder(Protocol):
    async def embed(self, texts: list[str]) -> list[np.ndarray] | None: ...


class GatewayEmbedder:
    def __init__(self, loader: CatalogLoader, router: Router, model: str) -> None:
        self._loader = loader
        self._router = router
        self._model = model

    def _routes(self) -> list[ModelRoute]:
        catalog = self._loader.catalog
        routes = catalog.routes.get(self._model) or catalog.routes.get(
            catalog.aliases.get(self._model, ""), []
        )
        return [r for r in routes if r.kind == "embedding"]

    async def embed(self, texts: list[str]) -> list[np.ndarray] | None:
        routes = self._routes()
        if not texts or not routes:
            return None

        async def attempt(route: ModelRoute) -> dict[str, Any]:
            body = {"model": route.upstream_model, "input": texts}
            answer: dict[str, Any] = await route.provider.embed(body)
            return answer

        try:
            answer = await self._router.call(routes, attempt)
            data = sorted(answer["data"], key=lambda d: d["index"])
            return [normalised(d["embedding"]) for d in data]
        except Exception as error:
            log.warning("memory embedding failed: %s", type(error).__name__)
            return None

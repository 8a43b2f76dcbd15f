"""``/api/status``: version, uptime, the model server and upstream states."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

from cong import __version__
from cong.services.catalog import Catalog

PROBE_CACHE_SECONDS = 5.0


class StatusService:
    def __init__(self, catalog: Catalog, *, model_server_enabled: bool, data_dir: Path) -> None:
        self.catalog = catalog
        self.model_server_enabled = model_server_enabled
        self.state_file = data_dir / "model-server.json"
        self.started = time.time()
        self._probes: dict[str, tuple[float, bool]] = {}

    async def _probe(self, name: str) -> bool:
        now = time.monotonic()
        cached = self._probes.get(name)
        if cached and now - cached[0] < PROBE_CACHE_SECONDS:
            return cached[1]
        ok = await self.catalog.providers[name].probe()
        self._probes[name] = (now, ok)
        return ok

    async def report(self) -> dict[str, Any]:
        names = list(self.catalog.providers)
        results = await asyncio.gather(*(self._probe(name) for name in names))
        states = dict(zip(names, results, strict=True))
        models: dict[str, list[str]] = {}
        for route in self.catalog.routes.values():
            models.setdefault(route.upstream, []).append(route.id)
        upstreams = [
            {"name": name, "state": "up" if states[name] else "down", "models": models[name]}
            for name in names
            if name != "embedded"
        ]
        return {
            "status": "ok",
            "version": __version__,
            "uptime_seconds": round(time.time() - self.started, 1),
            "model_server": self._model_server(states.get("embedded")),
            "upstreams": upstreams,
        }

    def _model_server(self, reachable: bool | None) -> dict[str, Any]:
        if not self.model_server_enabled:
            return {"state": "disabled"}
        info: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(self.state_file.read_text())
        state = "ready" if reachable else info.get("state", "unavailable")
        if not reachable and state == "ready":
            state = "unavailable"
        return {
            "state": state,
            "models": models_of(self.catalog, "embedded"),
            "restarts": info.get("restarts", 0),
            "pid": info.get("pid"),
        }


def models_of(catalog: Catalog, upstream: str) -> list[str]:
    return [r.id for r in catalog.routes.values() if r.upstream == upstream]

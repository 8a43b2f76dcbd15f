"""``/api/status``: version, uptime, the model server and channel states (no secrets)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cong import __version__
from cong.channels.catalog import EMBEDDED, Catalog
from cong.channels.catalog_loader import CatalogLoader
from cong.channels.health import ChannelHealth
from cong.limits.base import RateLimiter

PROBE_CACHE_SECONDS = 10.0


class StatusService:
    def __init__(
        self,
        loader: CatalogLoader,
        health: ChannelHealth,
        *,
        model_server_enabled: bool,
        data_dir: Path,
        limiter: RateLimiter | None = None,
        draining: Callable[[], bool] | None = None,
    ) -> None:
        self.limiter = limiter
        self.draining = draining
        self.loader = loader
        self.health = health
        self.model_server_enabled = model_server_enabled
        self.state_file = data_dir / "model-server.json"
        self.started = time.time()
        self._probes: dict[str, tuple[float, bool]] = {}

    async def _probe(self, name: str) -> bool:
        now = time.monotonic()
        cached = self._probes.get(name)
        if cached and now - cached[0] < PROBE_CACHE_SECONDS:
            return cached[1]
        try:
            ok = await self.loader.catalog.providers[name].probe()
        except Exception:  # whatever a channel's URL does, the status page answers
            ok = False
        self._probes[name] = (now, ok)
        return ok

    async def report(self, *, admin: bool = False) -> dict[str, Any]:
        """The status; channel names, errors and channels that failed to load only for an
        admin (anyone else sees each upstream's state and models, not its name)."""
        catalog = self.loader.catalog
        names = list(catalog.providers)
        results = await asyncio.gather(*(self._probe(name) for name in names))
        reachable = dict(zip(names, results, strict=True))
        models: dict[str, list[str]] = {}
        for routes in catalog.routes.values():
            for route in routes:
                models.setdefault(route.channel, []).append(route.id)
        health = self.health.snapshot()
        channels = [
            {
                "name": name,
                "state": "up" if reachable[name] else "down",
                "circuit": health.get(name, {}).get("circuit", "closed"),
                "cooldown_remaining": health.get(name, {}).get("cooldown_remaining", 0.0),
                "recent_failures": health.get(name, {}).get("recent_failures", 0),
                "last_error": health.get(name, {}).get("last_error"),
                "models": models.get(name, []),
            }
            for name in names
            if name != EMBEDDED
        ]
        invalid = self.loader.channels.invalid
        model_server = self._model_server(reachable.get(EMBEDDED))
        if not admin:
            model_server.pop("pid", None)
            channels = [{k: c[k] for k in ("state", "circuit", "models")} for c in channels]
        report: dict[str, Any] = {
            "status": self.state(),
            "version": __version__,
            "uptime_seconds": round(time.time() - self.started, 1),
            "model_server": model_server,
            "upstreams": channels,
            "models": _by_kind(catalog),
            "rate_limits": self.limiter.status() if self.limiter else {"backend": "none"},
        }
        if admin:
            report["invalid_channels"] = [
                {"name": name, "reason": reason} for name, reason in sorted(invalid.items())
            ]
        return report

    def state(self) -> str:
        """``ok``, or ``draining`` once a graceful shutdown began."""
        return "draining" if self.draining is not None and self.draining() else "ok"

    def _model_server(self, reachable: bool | None) -> dict[str, Any]:
        if not self.model_server_enabled:
            return {"state": "disabled"}
        info: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(self.state_file.read_text())
        # The supervisor knows about (re)starts first; the probe says whether it answers.
        state = info.get("state", "ready" if reachable else "unavailable")
        if state == "ready" and not reachable:
            state = "unavailable"
        catalog = self.loader.catalog
        return {
            "state": state,
            "models": [m for m, rs in catalog.routes.items() if rs[0].channel == EMBEDDED],
            "restarts": info.get("restarts", 0),
            "last_restart_cause": info.get("last_restart_cause", ""),
            "pid": info.get("pid"),
        }


def _by_kind(catalog: Catalog) -> dict[str, list[str]]:
    """The model ids and aliases served, by kind (what the docs page offers for a chat,
    an embedding or an image snippet)."""
    kinds: dict[str, list[str]] = {"chat": [], "embedding": [], "image": []}
    for model, routes in catalog.routes.items():
        kinds[routes[0].kind].append(model)
    for alias, target in catalog.aliases.items():
        kinds[catalog.routes[target][0].kind].append(alias)
    return {kind: sorted(ids) for kind, ids in kinds.items()}

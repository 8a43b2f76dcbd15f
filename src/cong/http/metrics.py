"""Prometheus metrics (``GET /metrics``, admin key): requests, latency and time to first
token, tokens and cost per model, upstream errors and circuit states per channel, the
model server's queue and the usage writer's backlog.

Each app has its own registry (no process-wide state); request figures come from the
edge middleware, token and cost figures from the usage records as they are written. The
counters and histograms are plain numbers in dictionaries, updated on the event loop (a
few dictionary operations per request, where ``prometheus_client``'s own children take a
lock on every increment) and turned into metric families when ``/metrics`` is read."""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import aiohttp
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from cong.billing.usage_log import UsageRecord, UsageWriter
from cong.channels.health import ChannelHealth

if TYPE_CHECKING:  # passed through to the usage writer, never used here
    from cong.storage.database import Database

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
CIRCUIT_VALUES = {"closed": 0.0, "half-open": 1.0, "open": 2.0}
CONTENT_TYPE = CONTENT_TYPE_LATEST
TOKEN_KINDS = ("prompt", "completion", "cached", "reasoning")


class _Histogram:
    """One label set's histogram: a count per bucket (not cumulative) and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        running = 0
        out: list[tuple[str, float]] = []
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else str(float(bound)), running))
        return out


class Metrics:
    def __init__(self, known_paths: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.paths = frozenset(known_paths)
        self.requests: dict[tuple[str, str], int] = {}  # (path, status)
        self.latency: dict[str, _Histogram] = {}  # path
        self.ttft: dict[str, _Histogram] = {}  # path
        self.tokens: dict[tuple[str, str], float] = {}  # (model, kind)
        self.cost: dict[str, float] = {}  # model
        self.upstream: dict[tuple[str, str], int] = {}  # (channel, status)
        self.health: ChannelHealth | None = None
        self.backlog: Callable[[], int] | None = None
        self.model_server_queue: dict[str, float] = {}
        self.registry.register(_Counted(self))
        self.registry.register(_LiveState(self))

    def path_label(self, path: str) -> str:
        if path in self.paths:
            return path
        if path.startswith("/v1/"):
            return "/v1/other"
        if path.startswith("/api/"):
            return "/api"
        return "other"

    def observe_request(self, path: str, status: int, seconds: float, ttft: float | None) -> None:
        label = path if path in self.paths else self.path_label(path)
        key = (label, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.latency.get(label) or self.latency.setdefault(label, _Histogram())
        histogram.observe(seconds)
        if ttft is not None:
            first = self.ttft.get(label) or self.ttft.setdefault(label, _Histogram())
            first.observe(ttft)

    def observe_usage(self, record: UsageRecord) -> None:
        model = record.requested_model
        tokens = self.tokens
        for kind, value in zip(
            TOKEN_KINDS,
            (
                record.prompt_tokens,
                record.completion_tokens,
                record.cached_tokens,
                record.reasoning_tokens,
            ),
            strict=True,
        ):
            if value > 0:
                tokens[(model, kind)] = tokens.get((model, kind), 0) + value
        if record.cost > 0:
            self.cost[model] = self.cost.get(model, 0.0) + record.cost / 1_000_000
        key = (record.channel or "none", str(record.status))
        self.upstream[key] = self.upstream.get(key, 0) + 1

    async def refresh_model_server(self, base_url: str | None) -> None:
        """The embedded model server's queue, from its health answer (none if away)."""
        self.model_server_queue = {}
        if base_url is None:
            return
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
            timeout = aiohttp.ClientTimeout(total=1)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(base_url + "/health") as response,
            ):
                chat = (await response.json()).get("chat") or {}
                for name in ("queued", "active", "max_queue"):
                    if isinstance(chat.get(name), int | float):
                        self.model_server_queue[name] = float(chat[name])

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Counted(Collector):
    """The counters and histograms, as metric families at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        requests = CounterMetricFamily(
            "cong_http_requests", "HTTP requests by path and status", labels=["path", "status"]
        )
        for labels, count in list(m.requests.items()):
            requests.add_metric(list(labels), count)
        yield requests
        for name, documentation, histograms in (
            ("cong_http_request_duration_seconds", "Time to the end of the response", m.latency),
            (
                "cong_time_to_first_token_seconds",
                "Streams: time to the first event with content",
                m.ttft,
            ),
        ):
            family = HistogramMetricFamily(name, documentation, labels=["path"])
            for path, histogram in list(histograms.items()):
                family.add_metric([path], histogram.buckets(), histogram.total)
            yield family
        tokens = CounterMetricFamily(
            "cong_tokens", "Tokens by served model and kind", labels=["model", "kind"]
        )
        for labels, value in list(m.tokens.items()):
            tokens.add_metric(list(labels), value)
        yield tokens
        cost = CounterMetricFamily(
            "cong_cost", "Amount charged (currency units) by model", labels=["model"]
        )
        for model, value in list(m.cost.items()):
            cost.add_metric([model], value)
        yield cost
        upstream = CounterMetricFamily(
            "cong_upstream_requests",
            "Requests settled, by channel and status",
            labels=["channel", "status"],
        )
        for labels, count in list(m.upstream.items()):
            upstream.add_metric(list(labels), count)
        yield upstream


class _LiveState(Collector):
    """Values read at scrape time: circuits, upstream errors, backlog, model queue."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        circuits = GaugeMetricFamily(
            "cong_channel_circuit_state",
            "Circuit per channel: 0 closed, 1 half-open, 2 open",
            labels=["channel"],
        )
        errors = CounterMetricFamily(
            "cong_channel_upstream_errors",
            "Upstream failures per channel since start",
            labels=["channel"],
        )
        if m.health is not None:
            for channel, state in m.health.snapshot().items():
                circuits.add_metric([channel], CIRCUIT_VALUES.get(str(state["circuit"]), 0.0))
                errors.add_metric([channel], float(state["errors_total"]))  # type: ignore[arg-type]
        yield circuits
        yield errors
        if m.backlog is not None:
            yield GaugeMetricFamily(
                "cong_usage_writer_backlog", "Usage records not written yet", value=m.backlog()
            )
        if m.model_server_queue:
            queue = GaugeMetricFamily(
                "cong_model_server_requests",
                "Embedded model server: chat requests queued and active",
                labels=["state"],
            )
            for name, value in m.model_server_queue.items():
                queue.add_metric([name], value)
            yield queue


class MeasuredUsageWriter(UsageWriter):
    """The usage writer, with each record counted in the metrics as it is added."""

    def __init__(self, db: Database, metrics: Metrics, **options: Any) -> None:
        super().__init__(db, **options)
        self.metrics = metrics
        metrics.backlog = lambda: len(self._pending)

    def add(self, record: UsageRecord) -> None:
        self.metrics.observe_usage(record)
        super().add(record)

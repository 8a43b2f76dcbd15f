"""Prometheus metrics (``GET /metrics``, admin key): requests, latency and time to first
token, tokens and cost per model, upstream errors and circuit states per channel, the
model server's queue and the usage writer's backlog.

Each app has its own registry (no process-wide state); request figures come from the
edge middleware, token and cost figures from the usage records as they are written."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from cong.billing.usage_log import UsageRecord, UsageWriter
from cong.channels.health import ChannelHealth

if TYPE_CHECKING:  # passed through to the usage writer, never used here
    from cong.storage.database import Database

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)
CIRCUIT_VALUES = {"closed": 0.0, "half-open": 1.0, "open": 2.0}
CONTENT_TYPE = CONTENT_TYPE_LATEST
MAX_KEPT_CHILDREN = 10_000


class Metrics:
    def __init__(self, known_paths: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.requests = Counter(
            "cong_http_requests", "HTTP requests by path and status", ["path", "status"], registry=r
        )
        self.latency = Histogram(
            "cong_http_request_duration_seconds",
            "Time to the end of the response",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "cong_time_to_first_token_seconds",
            "Streams: time to the first event with content",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "cong_tokens", "Tokens by served model and kind", ["model", "kind"], registry=r
        )
        self.cost = Counter(
            "cong_cost", "Amount charged (currency units) by model", ["model"], registry=r
        )
        self.upstream = Counter(
            "cong_upstream_requests",
            "Requests settled, by channel and status",
            ["channel", "status"],
            registry=r,
        )
        self.paths = frozenset(known_paths)
        # (path, status) -> its metric children, for paths we name (others are not kept).
        self._children: dict[tuple[str, int], tuple[Any, Any, Any]] = {}
        self._usage_children: dict[tuple[str, str, int], tuple[Any, ...]] = {}
        self.health: ChannelHealth | None = None
        self.backlog: Callable[[], int] | None = None
        self.model_server_queue: dict[str, float] = {}
        r.register(_LiveState(self))

    def path_label(self, path: str) -> str:
        if path in self.paths:
            return path
        if path.startswith("/v1/"):
            return "/v1/other"
        if path.startswith("/api/"):
            return "/api"
        return "other"

    def observe_request(self, path: str, status: int, seconds: float, ttft: float | None) -> None:
        children = self._children.get((path, status))
        if children is None:
            label = self.path_label(path)
            children = (
                self.requests.labels(label, str(status)),
                self.latency.labels(label),
                self.ttft.labels(label),
            )
            if path in self.paths:
                self._children[(path, status)] = children
        requests, latency, ttft_histogram = children
        requests.inc()
        latency.observe(seconds)
        if ttft is not None:
            ttft_histogram.observe(ttft)

    def observe_usage(self, record: UsageRecord) -> None:
        # ``labels()`` takes a lock and builds keys on every call: the children of a
        # (model, channel, status) are looked up once and kept (a bounded number of them).
        labels = (record.requested_model, record.channel or "none", record.status)
        children = self._usage_children.get(labels)
        if children is None:
            children = self._usage_metrics(*labels)
            if len(self._usage_children) < MAX_KEPT_CHILDREN:
                self._usage_children[labels] = children
        prompt, completion, cached, reasoning, cost, upstream = children
        for counter, value in (
            (prompt, record.prompt_tokens),
            (completion, record.completion_tokens),
            (cached, record.cached_tokens),
            (reasoning, record.reasoning_tokens),
        ):
            if value > 0:
                counter.inc(value)
        if record.cost > 0:
            cost.inc(record.cost / 1_000_000)
        upstream.inc()

    def _usage_metrics(self, model: str, channel: str, status: int) -> tuple[Any, ...]:
        kinds = ("prompt", "completion", "cached", "reasoning")
        tokens = tuple(self.tokens.labels(model, kind) for kind in kinds)
        return (*tokens, self.cost.labels(model), self.upstream.labels(channel, str(status)))

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

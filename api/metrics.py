"""Prometheus metrics of one API app, in its own registry (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from wxcc_stream.api.entries import Kind
from wxcc_stream.base.process_metrics import register_process_metrics

VISIBLE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """Records read and changes, bad documents, sizes, requests, stream subscribers."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        if registry is None:
            registry = CollectorRegistry()
            register_process_metrics(registry)
        self.registry = registry
        ns = "wxcc_api"
        self.records = Counter(
            f"{ns}_records", "Projection records read", ["projection"], registry=registry
        )
        self.bad = Counter(
            f"{ns}_bad_records",
            "Projection records skipped (not a document)",
            ["projection", "reason"],
            registry=registry,
        )
        self.documents = Gauge(
            f"{ns}_documents", "Documents held in memory", ["projection"], registry=registry
        )
        self.caught_up = Gauge(
            f"{ns}_caught_up", "1 once the view reached the end of both topics", registry=registry
        )
        self.lag = Gauge(f"{ns}_lag_records", "Projection records not read yet", registry=registry)
        self.visible = Histogram(
            f"{ns}_visible_seconds",
            "From a projection record's Kafka timestamp to the change being visible",
            buckets=VISIBLE_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            f"{ns}_requests", "Requests answered", ["route", "status"], registry=registry
        )
        self.subscribers = Gauge(f"{ns}_stream_subscribers", "Open live streams", registry=registry)

    def count_record(self, kind: Kind) -> None:
        self.records.labels(kind.value).inc()

    def count_bad(self, kind: Kind, reason: str) -> None:
        self.bad.labels(kind.value, reason).inc()

    def set_sizes(self, agents: int, tasks: int) -> None:
        self.documents.labels(Kind.AGENT.value).set(agents)
        self.documents.labels(Kind.TASK.value).set(tasks)

    def observe_visible(self, seconds: float) -> None:
        self.visible.observe(max(0.0, seconds))

"""Prometheus metrics of one sink, in its own registry (never the global one)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from wxcc_stream.base.process_metrics import register_process_metrics
from wxcc_stream.sink.batch import Staged
from wxcc_stream.sink.rows import Projection

BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class SinkMetrics:
    """Records read, rows written or left (older revisions), bad records, batches, lag."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        if registry is None:
            registry = CollectorRegistry()
            register_process_metrics(registry)
        self.registry = registry
        ns = "wxcc_sink"
        self.records = Counter(
            f"{ns}_records", "Projection records read", ["projection"], registry=registry
        )
        self.rows_changed = Counter(
            f"{ns}_rows_changed",
            "Rows inserted or moved to a higher revision",
            ["projection"],
            registry=registry,
        )
        self.rows_unchanged = Counter(
            f"{ns}_rows_unchanged",
            "Staged rows the table already held at the same or a higher revision",
            ["projection"],
            registry=registry,
        )
        self.bad = Counter(
            f"{ns}_bad_records",
            "Projection records skipped (not a document)",
            ["projection"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            f"{ns}_batch_seconds",
            "One batch: COPY, merge and commit",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.db_errors = Counter(
            f"{ns}_database_errors", "Failed database transactions (retried)", registry=registry
        )
        self.lag = Gauge(
            f"{ns}_lag_records", "Projection records not written yet", registry=registry
        )
        self.caught_up = Gauge(
            f"{ns}_caught_up",
            "1 once the tables hold what the topics had at start",
            registry=registry,
        )
        self.generation = Gauge(
            f"{ns}_generation",
            "The topic generation each table holds (1: the live topics)",
            ["projection"],
            registry=registry,
        )
        for projection in Projection:
            self.generation.labels(projection.value).set(1)

    def count_batch(self, staged: Staged, changed: Mapping[Projection, int]) -> None:
        for projection in Projection:
            label = projection.value
            self.records.labels(label).inc(staged.documents.get(projection, 0))
            rows = len(staged.rows.get(projection, ()))
            done = changed.get(projection, 0)
            self.rows_changed.labels(label).inc(done)
            self.rows_unchanged.labels(label).inc(max(0, rows - done))
        for rejected in staged.rejected:
            self.records.labels(rejected.projection.value).inc()
            self.bad.labels(rejected.projection.value).inc()

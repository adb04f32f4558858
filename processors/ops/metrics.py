"""Prometheus metrics of one worker, on a registry of its own (no global state)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from wxcc_stream.base.process_metrics import register_process_metrics

__all__ = ["CONTENT_TYPE", "WorkerMetrics"]

# The Prometheus text format; aiohttp takes the charset separately (it is UTF-8).
CONTENT_TYPE = "text/plain; version=0.0.4"

# Latency from the ingress receive time to the projection send: grace and timeout are
# seconds, so the buckets reach well past the default grace + timeout.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.5, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class WorkerMetrics:
    """Every metric the processors export; `stream` labels are `agent` or `task`."""

    registry: CollectorRegistry
    events_in: Counter
    events_out: Counter
    routed: Counter
    hops: Counter
    deadlettered: Counter
    duplicates: Counter
    late: Counter
    conflicts: Counter
    beyond_horizon: Counter
    unknown_types: Counter
    projections: Counter
    expired: Counter
    buffer_depth: Gauge
    seen_set_size: Gauge
    entities: Gauge
    latency: Histogram
    batch_size: Histogram
    partition_lag: Gauge
    partition_stalled: Gauge
    stalled_partitions: Gauge
    offset_holes: Counter

    @classmethod
    def create(cls) -> WorkerMetrics:
        """A fresh registry with every metric registered on it."""
        r = CollectorRegistry(auto_describe=True)
        register_process_metrics(r)
        ns = "wxcc_worker"
        stream = ("stream",)
        tp = ("topic", "partition")

        def counter(name: str, doc: str, labels: tuple[str, ...] = stream) -> Counter:
            return Counter(f"{ns}_{name}", doc, labels, registry=r)

        def gauge(name: str, doc: str, labels: tuple[str, ...] = stream) -> Gauge:
            return Gauge(f"{ns}_{name}", doc, labels, registry=r)

        return cls(
            registry=r,
            events_in=counter("events_in", "events taken from a per-entity stream"),
            events_out=counter("events_out", "events published to an ordered topic"),
            routed=counter("raw_routed", "raw records routed to a per-entity stream"),
            hops=counter(
                "raw_hops",
                "raw records sent through a per-entity stream (not already in their "
                "entity's partition)",
            ),
            deadlettered=counter(
                "deadlettered", "records sent to the dead-letter topic", ("reason",)
            ),
            duplicates=counter("duplicates", "duplicate events dropped"),
            late=counter("late_events", "events behind released ones (state recomputed)"),
            conflicts=counter("conflicts", "same (source, id) with another payload"),
            beyond_horizon=counter(
                "beyond_horizon", "events older than the retained history (late topic)"
            ),
            unknown_types=counter("unknown_types", "events of a type no fold knows"),
            projections=counter("projections_sent", "projection documents published"),
            expired=counter("entities_expired", "entities compacted to their final projection"),
            buffer_depth=gauge("reorder_buffer_depth", "events held in reorder buffers"),
            seen_set_size=gauge("seen_set_size", "entries in the dedupe seen-sets"),
            entities=gauge("entities", "entity values written by this worker"),
            latency=Histogram(
                f"{ns}_end_to_end_latency_seconds",
                "ingress receive time to projection sent",
                stream,
                buckets=_LATENCY_BUCKETS,
                registry=r,
            ),
            batch_size=Histogram(
                f"{ns}_batch_events",
                "events per processed batch",
                stream,
                buckets=(1, 10, 50, 100, 250, 500, 1000, 2000),
                registry=r,
            ),
            partition_lag=gauge("partition_lag", "records not yet processed", tp),
            partition_stalled=gauge(
                "partition_stalled", "1 when no progress is made while records wait", tp
            ),
            stalled_partitions=Gauge(
                f"{ns}_stalled_partitions", "number of stalled partitions", registry=r
            ),
            offset_holes=counter(
                "offset_holes", "input records the consumer skipped (rebalance)", tp
            ),
        )

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

"""The worker's metrics fed from each processed batch and from the routing of raw records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from wxcc_stream.processors.core.report import Stats
from wxcc_stream.processors.ops.metrics import WorkerMetrics
from wxcc_stream.schemas.event import EntityKind

__all__ = ["BatchObserver"]


@dataclass(slots=True)
class BatchObserver:
    """Counters from each batch, and the per-partition totals behind the gauges."""

    metrics: WorkerMetrics
    # per (stream, partition): [buffered events, seen-set entries, entities] touched here
    totals: dict[tuple[str, int], list[int]] = field(default_factory=dict)

    def routed(
        self,
        routed: Mapping[EntityKind, int],
        hopped: Mapping[EntityKind, int],
        rejected: Mapping[str, int],
    ) -> None:
        """Count raw records routed to each stream, those taking the hop, and dead letters."""
        m = self.metrics
        for kind, count in routed.items():
            m.routed.labels(kind.value).inc(count)
        for kind, count in hopped.items():
            m.hops.labels(kind.value).inc(count)
        for reason, count in rejected.items():
            m.deadlettered.labels(reason).inc(count)

    def batch(self, kind: EntityKind, s: Stats, acked_ms: int) -> None:
        """Feed the metrics from one processed batch of a stream."""
        m, label = self.metrics, kind.value
        for counter, value in (
            (m.events_in, s.events_in),
            (m.events_out, s.events_out),
            (m.duplicates, s.duplicates),
            (m.late, s.late),
            (m.conflicts, s.conflicts),
            (m.beyond_horizon, s.beyond_horizon),
            (m.unknown_types, s.unknown_types),
            (m.projections, s.projections),
            (m.expired, s.compacted),
        ):
            if value:
                counter.labels(label).inc(value)
        if s.conflicts:
            m.deadlettered.labels("conflict").inc(s.conflicts)
        if s.deadlettered:
            m.deadlettered.labels("bad_stream_record").inc(s.deadlettered)
        if s.events_in:
            m.batch_size.labels(label).observe(s.events_in)
        for received in s.received_at:
            m.latency.labels(label).observe(max(0, acked_ms - received) / 1000.0)
        self._gauges(label, s)

    def _gauges(self, label: str, s: Stats) -> None:
        for partition in {*s.buffer_delta, *s.seen_delta, *s.entities_delta}:
            total = self.totals.setdefault((label, partition), [0, 0, 0])
            total[0] += s.buffer_delta.get(partition, 0)
            total[1] += s.seen_delta.get(partition, 0)
            total[2] += s.entities_delta.get(partition, 0)
        sums = [0, 0, 0]
        for (stream, _), total in self.totals.items():
            if stream == label:
                sums = [a + b for a, b in zip(sums, total, strict=True)]
        m = self.metrics
        m.buffer_depth.labels(label).set(sums[0])
        m.seen_set_size.labels(label).set(sums[1])
        m.entities.labels(label).set(sums[2])

    def forget_partitions(self, partitions: Iterable[int]) -> None:
        """Partitions moved away: their entities are no longer counted here."""
        for partition in partitions:
            for kind in EntityKind:
                self.totals.pop((kind.value, partition), None)

"""The liveness check of the worker's input partitions: stalled ones logged and exported."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from wxcc_stream.processors.ops.liveness import PartitionHealth, StallDetector
from wxcc_stream.processors.ops.metrics import WorkerMetrics

__all__ = ["HealthWatch"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class HealthWatch:
    """The detector fed from the consumer, and the health it last found."""

    detector: StallDetector
    metrics: WorkerMetrics
    health: list[PartitionHealth] = field(default_factory=list)
    stalled_logged: set[tuple[str, int]] = field(default_factory=set)

    def end_offsets(self) -> dict[tuple[str, int], int]:
        """The latest known end offset of each watched partition."""
        return {(h.topic, h.partition): h.end_offset for h in self.health if h.end_offset}

    async def check(self, app: Any, topics: set[str], now: int) -> None:
        """Compare processed positions with end offsets; log and export stalled partitions."""
        detector = self.detector
        assigned = [tp for tp in app.consumer.assignment() if tp.topic in topics]
        detector.assign(((tp.topic, tp.partition) for tp in assigned), now)
        if not assigned:
            self.health = []
            return
        committed = app.monitor.tp_committed_offsets or {}
        for tp in assigned:
            detector.committed((tp.topic, tp.partition), committed.get(tp), now)
            if detector.position_of((tp.topic, tp.partition)) is None:
                position = await app.consumer.position(tp)
                detector.committed((tp.topic, tp.partition), position, now)
        ends = await app.consumer.highwaters(*assigned)
        detector.observe_end_offsets({(tp.topic, tp.partition): e for tp, e in ends.items()}, now)
        self.health = detector.health(now)
        self._export()

    def _export(self) -> None:
        m = self.metrics
        stalled = 0
        for h in self.health:
            labels = (h.topic, str(h.partition))
            m.partition_lag.labels(*labels).set(h.lag)
            m.partition_stalled.labels(*labels).set(1 if h.stalled else 0)
            key = (h.topic, h.partition)
            if h.stalled:
                stalled += 1
                if key not in self.stalled_logged:
                    self.stalled_logged.add(key)
                    log.error(
                        "partition %s[%d] stalled: no progress for %d ms with %d records waiting "
                        "(position %s, end %s)",
                        h.topic, h.partition, h.still_for_ms, h.lag, h.position, h.end_offset,
                    )  # fmt: skip
            elif key in self.stalled_logged:
                self.stalled_logged.discard(key)
                log.warning("partition %s[%d] is moving again", h.topic, h.partition)
        m.stalled_partitions.set(stalled)

"""Prometheus metrics of one ingress app, in its own registry (never the global one).

The hot path only bumps plain integers (no locks, no label lookups); a collector turns
them into Prometheus families when `/metrics` is scraped, on the same event loop.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from wxcc_stream.base.process_metrics import register_process_metrics
from wxcc_stream.schemas.models import EVENT_TYPES

# Label values come from a fixed set so a sender cannot blow up the series count.
KNOWN_TYPES = frozenset(EVENT_TYPES) | frozenset(
    {
        "agent:channel_state_change",
        "agent:channelType_state_change",
        "task:conference-transferred",
        "task:failed",
        "task:origin-updated",
    }
)
PUBLISH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def type_label(event_type: str | None) -> str:
    """The `type` label of a request: a known event type, `other`, `batch` or `unknown`."""
    if event_type is None:
        return "unknown"
    return event_type if event_type in KNOWN_TYPES else "other"


class IngressMetrics:
    """Requests by status and type, publish latency, dead letters by reason, spool depth."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        if registry is None:
            registry = CollectorRegistry()
            register_process_metrics(registry)
        self.registry = registry
        self.requests: dict[tuple[int, str], int] = {}
        self.events: dict[str, int] = {}
        self.deadlettered: dict[str, int] = {}
        self.deadletter_failures: dict[str, int] = {}
        self.publish_buckets = [0] * (len(PUBLISH_BUCKETS) + 1)  # the last one is +Inf
        self.publish_sum = 0.0
        self.spool_depth = 0
        self.registry.register(_Collector(self))

    def count_request(self, status: int, label: str) -> None:
        """One answered delivery."""
        key = (status, label)
        self.requests[key] = self.requests.get(key, 0) + 1

    def count_event(self, label: str) -> None:
        """One event stored in the raw topic."""
        self.events[label] = self.events.get(label, 0) + 1

    def count_deadlettered(self, reason: str) -> None:
        self.deadlettered[reason] = self.deadlettered.get(reason, 0) + 1

    def count_deadletter_failure(self, reason: str) -> None:
        self.deadletter_failures[reason] = self.deadletter_failures.get(reason, 0) + 1

    def observe_publish(self, seconds: float) -> None:
        """Time from a valid delivery to Kafka's acknowledgement (or the spool's fsync)."""
        self.publish_buckets[bisect_left(PUBLISH_BUCKETS, seconds)] += 1
        self.publish_sum += seconds

    def set_spool_depth(self, depth: int) -> None:
        self.spool_depth = depth


class _Collector(Collector):
    def __init__(self, metrics: IngressMetrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._m
        requests = CounterMetricFamily(
            "wxcc_ingress_requests",
            "Webhook deliveries answered, by HTTP status and event type",
            labels=["status", "type"],
        )
        for (status, label), n in sorted(m.requests.items()):
            requests.add_metric([str(status), label], n)
        yield requests
        events = CounterMetricFamily(
            "wxcc_ingress_events", "Events stored in the raw topic, by type", labels=["type"]
        )
        for label, n in sorted(m.events.items()):
            events.add_metric([label], n)
        yield events
        for name, doc, values in (
            (
                "wxcc_ingress_deadlettered",
                "Refused deliveries written to the dead-letter topic, by reason",
                m.deadlettered,
            ),
            (
                "wxcc_ingress_deadletter_failures",
                "Refused deliveries that could not be written to the dead-letter topic",
                m.deadletter_failures,
            ),
        ):
            family = CounterMetricFamily(name, doc, labels=["reason"])
            for reason, n in sorted(values.items()):
                family.add_metric([reason], n)
            yield family
        cumulative, buckets = 0, []
        for bound, n in zip((*PUBLISH_BUCKETS, float("inf")), m.publish_buckets, strict=True):
            cumulative += n
            buckets.append((_le(bound), cumulative))
        yield HistogramMetricFamily(
            "wxcc_ingress_publish_seconds",
            "Time from a valid delivery to Kafka's acknowledgement (or the spool's fsync)",
            buckets=buckets,
            sum_value=m.publish_sum,
        )
        yield GaugeMetricFamily(
            "wxcc_ingress_spool_depth",
            "Records in the local spool not yet in Kafka",
            value=m.spool_depth,
        )


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)

"""Both services' `/metrics` registries carry the standard process metrics (one process is
bound to one core, so its CPU seconds are what an operator scales by)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from wxcc_stream.ingress.metrics import IngressMetrics
from wxcc_stream.processors.ops.metrics import WorkerMetrics

STANDARD = (
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "python_gc_",
    "python_info",
)


def exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_ingress_and_worker_registries_expose_process_metrics() -> None:
    for text in (
        exposition(IngressMetrics().registry),
        exposition(WorkerMetrics.create().registry),
    ):
        missing = [name for name in STANDARD if name not in text]
        assert not missing, missing


def test_a_registry_handed_in_is_left_as_it_is() -> None:
    # tests and embedders may pass their own registry: nothing is added to it behind them
    registry = CollectorRegistry()
    assert "process_cpu_seconds_total" not in exposition(IngressMetrics(registry).registry)

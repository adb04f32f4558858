"""The standard process metrics (CPU seconds, memory, open files, garbage collections, the
Python version) on a service's own registry, so `/metrics` shows what one process costs:
the ingress and the worker are each bound to one core."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector


def register_process_metrics(registry: CollectorRegistry) -> None:
    """Add `process_*`, `python_gc_*` and `python_info` to `registry`."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)

"""The one-line live status `wxcc-stream run` prints, from the services' /metrics. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True, slots=True)
class SystemStatus:
    """What a person watching a local run wants to know; None: that service did not answer."""

    events_received: int | None
    worker_lag: int | None
    agents: int | None
    tasks: int | None


def _samples(exposition: str | None, name: str) -> list[tuple[Mapping[str, str], float]] | None:
    if exposition is None:
        return None
    found: list[tuple[Mapping[str, str], float]] = []
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            # counters are exposed as <name>_total; gauges under their own name
            if sample.name in (name, f"{name}_total"):
                found.append((sample.labels, sample.value))
    return found


def _total(exposition: str | None, name: str, **labels: str) -> int | None:
    samples = _samples(exposition, name)
    if samples is None:
        return None
    return round(
        sum(v for seen, v in samples if all(seen.get(k) == want for k, want in labels.items()))
    )


def status_from(ingress: str | None, worker: str | None, api: str | None) -> SystemStatus:
    """Read the figures from the three services' Prometheus expositions (None: unreachable)."""
    return SystemStatus(
        events_received=_total(ingress, "wxcc_ingress_events"),
        worker_lag=_total(worker, "wxcc_worker_partition_lag"),
        agents=_total(api, "wxcc_api_documents", projection="agent"),
        tasks=_total(api, "wxcc_api_documents", projection="task"),
    )


def _figure(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def format_status(status: SystemStatus, elapsed_s: float) -> str:
    """`[run] 0:01:05  events received 12,345 | worker lag 12 | agents 20 | tasks 1,234`."""
    whole = int(elapsed_s)
    clock = f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
    return (
        f"[run] {clock}  events received {_figure(status.events_received)}"
        f" | worker lag {_figure(status.worker_lag)}"
        f" | agents {_figure(status.agents)} | tasks {_figure(status.tasks)}"
    )

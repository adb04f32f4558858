"""The live status line of `wxcc-stream run`, from real metric expositions."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from wxcc_stream.status_line import SystemStatus, format_status, status_from


def _ingress() -> str:
    r = CollectorRegistry()
    events = Counter("wxcc_ingress_events", "stored", ["type"], registry=r)
    events.labels("agent:login").inc(3)
    events.labels("task:new").inc(39)
    return generate_latest(r).decode()


def _worker() -> str:
    r = CollectorRegistry()
    lag = Gauge("wxcc_worker_partition_lag", "lag", ["topic", "partition"], registry=r)
    lag.labels("wxcc.raw", "0").set(5)
    lag.labels("wxcc.raw", "1").set(7)
    return generate_latest(r).decode()


def _api() -> str:
    r = CollectorRegistry()
    docs = Gauge("wxcc_api_documents", "held", ["projection"], registry=r)
    docs.labels("agent").set(20)
    docs.labels("task").set(1234)
    return generate_latest(r).decode()


def test_figures_are_summed_from_each_service() -> None:
    assert status_from(_ingress(), _worker(), _api()) == SystemStatus(
        events_received=42, worker_lag=12, agents=20, tasks=1234
    )


def test_a_service_that_does_not_answer_shows_a_dash() -> None:
    status = status_from(_ingress(), None, None)
    assert status == SystemStatus(events_received=42, worker_lag=None, agents=None, tasks=None)
    line = format_status(status, elapsed_s=3725.9)
    assert line == "[run] 1:02:05  events received 42 | worker lag - | agents - | tasks -"


def test_a_service_without_the_metric_yet_counts_zero() -> None:
    assert status_from("", "", "").events_received == 0


def test_large_figures_are_grouped() -> None:
    line = format_status(SystemStatus(1_234_567, 0, 20, 98_765), elapsed_s=0)
    assert "events received 1,234,567" in line
    assert "tasks 98,765" in line

"""The job's figures as Prometheus metrics, on a registry of its own (no global state)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from wxcc_stream.reconcile.job import Summary, WindowResult


@dataclass(frozen=True, slots=True)
class JobMetrics:
    """Totals over the runs of one process, and the last window's webhook loss rate."""

    registry: CollectorRegistry
    windows: Counter
    records: Counter
    events: Counter
    disagreements: Counter
    summaries: Counter
    agent_summaries: Counter
    loss_rate: Gauge
    last_window_end: Gauge

    @classmethod
    def create(cls) -> JobMetrics:
        """A fresh registry with every metric."""
        r = CollectorRegistry()
        return cls(
            registry=r,
            windows=Counter("wxcc_reconcile_windows", "windows reconciled", registry=r),
            records=Counter("wxcc_reconcile_records", "API records fetched", ["kind"], registry=r),
            events=Counter(
                "wxcc_reconcile_events",
                "the APIs' events by who delivered them: webhook, reconciled (an earlier "
                "run), injected (this run)",
                ["by"],
                registry=r,
            ),
            disagreements=Counter(
                "wxcc_reconcile_disagreements",
                "final facts where the projection disagreed with the API",
                ["field"],
                registry=r,
            ),
            summaries=Counter(
                "wxcc_reconcile_task_summaries",
                "authoritative task summaries (task:reconciled) injected",
                registry=r,
            ),
            agent_summaries=Counter(
                "wxcc_reconcile_agent_summaries",
                "authoritative agent summaries (agent:reconciled) injected",
                registry=r,
            ),
            loss_rate=Gauge(
                "wxcc_reconcile_webhook_loss_ratio",
                "share of the last window's API events that no webhook had delivered",
                registry=r,
            ),
            last_window_end=Gauge(
                "wxcc_reconcile_last_window_end_ms",
                "end of the last window reconciled (epoch ms)",
                registry=r,
            ),
        )

    def window_done(self, result: WindowResult) -> None:
        """Count one window."""
        self.windows.inc()
        self.records.labels("activity").inc(result.activities)
        self.records.labels("task").inc(result.tasks)
        self.records.labels("recording").inc(result.recordings)
        self.events.labels("webhook").inc(result.by_webhook)
        self.events.labels("reconciled").inc(result.by_reconcile)
        self.events.labels("injected").inc(result.injected)
        self.summaries.inc(result.summaries)
        self.agent_summaries.inc(result.agent_summaries)
        self.loss_rate.set(result.loss_rate)
        self.last_window_end.set(result.window.end)

    def run_done(self, summary: Summary) -> None:
        """Count a run's disagreements."""
        for name, count in summary.disagreements.items():
            self.disagreements.labels(name).inc(count)

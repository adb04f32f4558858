"""What the agent, the timers and the web views of one app share."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from wxcc_stream.base.clock import Clock, SystemClock
from wxcc_stream.base.partitioning import KeyPartitioner
from wxcc_stream.base.settings import Settings
from wxcc_stream.processors.core.policy import Policy, policy_of
from wxcc_stream.processors.ops.health import HealthWatch
from wxcc_stream.processors.ops.liveness import StallDetector
from wxcc_stream.processors.ops.metrics import WorkerMetrics
from wxcc_stream.processors.ops.observe import BatchObserver
from wxcc_stream.processors.shell.intake import Ledger
from wxcc_stream.processors.shell.topology import Topology

__all__ = ["ShellContext"]


@dataclass(slots=True)
class ShellContext:
    """The settings, the core policy, the clock, the metrics and the intake ledger."""

    settings: Settings
    policy: Policy
    metrics: WorkerMetrics
    health: HealthWatch
    observer: BatchObserver
    ledger: Ledger = field(default_factory=Ledger)
    partitioner: KeyPartitioner = field(default_factory=KeyPartitioner)
    # the processing time the core is given (injected, so tests can pin it)
    clock: Clock = field(default_factory=SystemClock)
    declared: bool = False
    _declare_lock: asyncio.Lock | None = None

    @classmethod
    def create(cls, settings: Settings, clock: Clock | None = None) -> ShellContext:
        """Context for one app, the core policy taken from the worker settings."""
        w = settings.worker
        policy = policy_of(settings)
        metrics = WorkerMetrics.create()
        return cls(
            settings=settings,
            policy=policy,
            metrics=metrics,
            health=HealthWatch(StallDetector(w.stall_timeout_ms), metrics),
            observer=BatchObserver(metrics),
            clock=clock or SystemClock(),
        )

    async def ensure_declared(self, topology: Topology) -> None:
        """Create every topic (partitions, compaction) before anything is sent to it."""
        if self.declared:
            return
        if self._declare_lock is None:
            self._declare_lock = asyncio.Lock()
        async with self._declare_lock:
            if not self.declared:
                for topic in topology.all_topics():
                    await topic.maybe_declare()
                self.declared = True

"""The reconciliation job's decisions, without I/O: which windows to read, where a run
resumes, whether an API event is new, and what a window and a run found. Pure.

A run covers [start, end): by default from its checkpoint (or `now - lookback` on a first
run) to `now - settle`; `--since/--until` name the range instead. It is read in windows of
`window_ms`, and the checkpoint moves to a window's end only once that window's events are
acknowledged, so a run that dies resumes at the first window it had not finished.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from wxcc_stream.reconcile.windows import Window, split
from wxcc_stream.schemas.raw_record import rfc3339_ms

ROLLING_KEY = "rolling"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """How far a run got: every window before `through` is done; `done`: the whole range."""

    through: int
    done: bool = False

    def to_json(self) -> bytes:
        """The value stored in the checkpoint topic."""
        return orjson.dumps({"through": self.through, "done": self.done})

    @classmethod
    def from_json(cls, raw: bytes) -> Checkpoint:
        """A stored checkpoint (ValueError if it is not one)."""
        doc = orjson.loads(raw)
        if not isinstance(doc, dict) or not isinstance(doc.get("through"), int):
            raise ValueError(f"not a reconcile checkpoint: {raw[:80]!r}")
        return cls(doc["through"], bool(doc.get("done", False)))


@dataclass(frozen=True, slots=True)
class PlanRequest:
    """What a run is asked to cover (times in epoch ms)."""

    now_ms: int
    settle_ms: int
    lookback_ms: int
    window_ms: int
    since: int | None = None
    until: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """The range of one run, its checkpoint key, and the windows still to read."""

    key: str
    start: int
    end: int
    windows: tuple[Window, ...]
    resumed_from: int | None = None


def checkpoint_key(request: PlanRequest) -> str:
    """The rolling job's key, or one per explicit range (so a range can resume too)."""
    if request.since is None and request.until is None:
        return ROLLING_KEY
    return f"range:{request.since}:{_end(request)}"


def _end(request: PlanRequest) -> int:
    return request.until if request.until is not None else request.now_ms - request.settle_ms


def plan(request: PlanRequest, checkpoint: Checkpoint | None) -> Plan:
    """The windows of this run.

    Rolling: from the checkpoint (else `now - settle - lookback`) to `now - settle`.
    A range: from `since` (else `until - lookback`) to `until` (else `now - settle`),
    resuming at its checkpoint when an earlier run of the same range did not finish.
    """
    key, end = checkpoint_key(request), _end(request)
    resumed: int | None = None
    if key == ROLLING_KEY:
        start = checkpoint.through if checkpoint else end - request.lookback_ms
        resumed = checkpoint.through if checkpoint else None
    else:
        start = request.since if request.since is not None else end - request.lookback_ms
        if checkpoint and not checkpoint.done and start < checkpoint.through < end:
            start = resumed = checkpoint.through
    windows = tuple(split(start, end, request.window_ms)) if end > start else ()
    return Plan(key, start, end, windows, resumed)


def checkpoint_after(plan_: Plan, window: Window) -> Checkpoint:
    """The checkpoint once `window` is acknowledged."""
    return Checkpoint(window.end, done=window.end >= plan_.end)


class Known(StrEnum):
    """Who already put an event with this semantic identity in the raw topic."""

    WEBHOOK = "webhook"
    RECONCILED = "reconciled"


Identity = tuple[Any, ...]


def remember(known: dict[Identity, Known], identity: Identity, by: Known) -> None:
    """Record a delivery; a webhook's is never downgraded to a reconciled one."""
    if known.get(identity) is not Known.WEBHOOK:
        known[identity] = by


@dataclass(frozen=True, slots=True)
class WindowResult:
    """What one window gave: records read, the API's events, and who had them already."""

    window: Window
    activities: int
    tasks: int
    recordings: int
    events: int
    by_webhook: int
    by_reconcile: int
    injected: int
    summaries: int = 0  # authoritative task summaries injected (not webhooks' facts)
    agent_summaries: int = 0  # authoritative agent summaries injected (the run's last window)

    @property
    def records(self) -> int:
        """API records read (activity rows, task records, recordings)."""
        return self.activities + self.tasks + self.recordings

    @property
    def known(self) -> int:
        """Events already in the raw topic (from a webhook or an earlier run)."""
        return self.by_webhook + self.by_reconcile

    @property
    def loss_rate(self) -> float:
        """Share of the API's events that no webhook had delivered (0 for no events)."""
        return (self.events - self.by_webhook) / self.events if self.events else 0.0


@dataclass(slots=True)
class Summary:
    """What a run did, window by window, and the disagreements it found."""

    plan: Plan
    windows: list[WindowResult] = field(default_factory=list)
    disagreements: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)
    dry_run: bool = False

    def total(self, name: str) -> int:
        """The sum of a WindowResult figure over the windows."""
        return sum(int(getattr(w, name)) for w in self.windows)

    @property
    def loss_rate(self) -> float:
        """Share of the run's API events that no webhook had delivered."""
        events = self.total("events")
        return (events - self.total("by_webhook")) / events if events else 0.0

    def lines(self) -> list[str]:
        """The final summary, as printed."""
        verb = "would inject" if self.dry_run else "injected"
        out = [
            f"reconcile: {len(self.windows)} window(s) "
            f"[{_iso(self.plan.start)} .. {_iso(self.plan.end)}), "
            f"{self.total('records'):,} records fetched, {self.total('events'):,} API events, "
            f"{self.total('known'):,} already known ({self.total('by_webhook'):,} by webhook, "
            f"{self.total('by_reconcile'):,} by an earlier run), {verb} "
            f"{self.total('injected'):,} and {self.total('summaries'):,} task summaries, "
            f"{self.total('agent_summaries'):,} agent summaries, "
            f"webhook loss rate {self.loss_rate:.2%}"
        ]
        out += [
            f"  window {_iso(w.window.start)}: {w.records:,} records, {w.events:,} events, "
            f"{w.known:,} known, {w.injected:,} {verb}, loss rate {w.loss_rate:.2%}"
            for w in self.windows
        ]
        out += [f"  disagreements {f}: {n:,}" for f, n in sorted(self.disagreements.items())]
        return out


def _iso(ms: int) -> str:
    return rfc3339_ms(ms) or str(ms)


def count_fields(found: Iterable[tuple[str, str, str]]) -> Counter[str]:
    """Disagreements (kind, entity, field) counted by `kind.field`."""
    return Counter(f"{kind}.{name}" for kind, _, name in found)

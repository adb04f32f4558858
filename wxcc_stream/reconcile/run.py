"""One run of the reconciliation job (the shell around `job`): plan the windows, and for
each one fetch, map, compare with what Kafka holds, inject what is missing, checkpoint.

"Already known" is decided against the raw topic, by the contract's semantic identity
(docs/projections.md): every event in it since the run's start (less a margin) is read
once, and a mapped event with the identity of one of them is known, whether a webhook or
an earlier run put it there. Such events are not published again (re-publishing would be
harmless, the worker keeps one of two semantic twins, but then "injected" would not mean
anything), so a second run over the same range injects nothing. The projections are read
only to report disagreements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from wxcc_stream.projections.task_summary import RECONCILED_TYPE
from wxcc_stream.reconcile.agent_summary import agent_events, agent_summary_events
from wxcc_stream.reconcile.client import WxccApiClient
from wxcc_stream.reconcile.diff import agent_disagreements, task_disagreements
from wxcc_stream.reconcile.events import (
    Origin,
    activity_event,
    capture_events,
    task_events,
    task_summary_event,
)
from wxcc_stream.reconcile.fetch import fetch_activities, fetch_captures, search_tasks
from wxcc_stream.reconcile.job import (
    Identity,
    Known,
    PlanRequest,
    Summary,
    WindowResult,
    checkpoint_after,
    checkpoint_key,
    count_fields,
    plan,
    remember,
)
from wxcc_stream.reconcile.kafka import (
    Injector,
    JobTopics,
    ensure_job_topics,
    known_events,
    read_checkpoint,
    read_projections,
)
from wxcc_stream.reconcile.records import RawOut, identity_of, raw_out
from wxcc_stream.reconcile.windows import Window
from wxcc_stream.schemas.event import EntityKind


class Progress(Protocol):
    """Told what the run will do and how each window went."""

    def planned(self, summary: Summary) -> None: ...

    def window_done(self, result: WindowResult) -> None: ...


@dataclass(frozen=True, slots=True)
class JobConfig:
    """Where the job writes, whose events it makes, and whether it only looks."""

    bootstrap: str
    topics: JobTopics
    origin: Origin
    state_change_type: str = "agent:state_change"
    dry_run: bool = False
    client_id: str = "wxcc-stream-reconcile"
    # how far back the agent summaries look for the login of a session
    session_lookback_ms: int = 86_400_000


@dataclass(frozen=True, slots=True)
class Fetched:
    """What the APIs gave for one window."""

    activities: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    recordings: dict[str, list[dict[str, Any]]]


async def fetch_window(client: WxccApiClient, window: Window) -> Fetched:
    """Activities starting in the window; tasks created or ended in it, and their
    recordings once they are over."""
    activities = await fetch_activities(client, window.start, window.end)
    tasks = {t["id"]: t for t in await search_tasks(client, window.start, window.end)}
    for task in await search_tasks(client, window.start, window.end, by="endedTime"):
        tasks[task["id"]] = task
    over = [t["id"] for t in tasks.values() if t.get("captureRequested") and not t.get("isActive")]
    recordings = await fetch_captures(client, over) if over else {}
    return Fetched(activities, list(tasks.values()), recordings)


def mapped_events(fetched: Fetched, config: JobConfig) -> list[dict[str, Any]]:
    """Every CloudEvent the window's records stand for."""
    events: list[dict[str, Any]] = []
    for row in fetched.activities:
        event = activity_event(row, config.origin, config.state_change_type)
        if event is not None:
            events.append(event)
    for task in fetched.tasks:
        events += task_events(task, config.origin)
        summary = task_summary_event(task, config.origin, fetched.recordings.get(task["id"], ()))
        if summary is not None:
            events.append(summary)
    for task_id, recordings in fetched.recordings.items():
        events += capture_events(task_id, recordings, config.origin)
    return events


async def run_job(
    client: WxccApiClient,
    config: JobConfig,
    request: PlanRequest,
    progress: Progress,
    now_ms: Callable[[], int],
) -> Summary:
    """Reconcile the planned windows; raises ReconcileError (API or Kafka failed: the
    windows acknowledged so far stay done, a rerun resumes after them)."""
    if not config.dry_run:
        await ensure_job_topics(config.bootstrap, config.topics)
    checkpoint = await read_checkpoint(config.bootstrap, config.topics, checkpoint_key(request))
    summary = Summary(plan(request, checkpoint), dry_run=config.dry_run)
    known = await known_events(config.bootstrap, config.topics, summary.plan.start)
    agents = await read_projections(config.bootstrap, config.topics.agent_state)
    tasks = await read_projections(config.bootstrap, config.topics.task_lifecycle)
    progress.planned(summary)
    seen: set[Identity] = set()  # facts this run has handled (a task spans windows)
    lossy: set[str] = set()  # agents with a fact no webhook delivered
    reported: set[tuple[str, str, str]] = set()
    injector = (
        None if config.dry_run else Injector(config.bootstrap, config.topics, config.client_id)
    )
    if injector is not None:
        await injector.start()
    try:
        for window in summary.plan.windows:
            fetched = await fetch_window(client, window)
            found = task_disagreements(fetched.tasks, fetched.recordings, tasks)
            found += agent_disagreements(fetched.activities, agents)
            found = [d for d in found if (d.kind, d.entity_id, d.field) not in reported]
            reported.update((d.kind, d.entity_id, d.field) for d in found)
            summary.disagreements.update(
                count_fields((d.kind, d.entity_id, d.field) for d in found)
            )
            summary.details += [d.line() for d in found]
            result = await _settle_window(
                window, fetched, config, known, seen, lossy, injector, now_ms()
            )
            if window == summary.plan.windows[-1] and (lossy or _reconciled_agents(known)):
                made = await agent_summaries(
                    client, config, window.end, lossy, known, injector, now_ms()
                )
                result = replace(result, agent_summaries=made)
            if injector is not None:
                await injector.checkpoint(summary.plan.key, checkpoint_after(summary.plan, window))
            summary.windows.append(result)
            progress.window_done(result)
    finally:
        if injector is not None:
            await injector.stop()
    return summary


async def _settle_window(
    window: Window,
    fetched: Fetched,
    config: JobConfig,
    known: dict[Identity, Known],
    seen: set[Identity],
    lossy: set[str],
    injector: Injector | None,
    now: int,
) -> WindowResult:
    """Classify the window's events not handled earlier in the run, publish the new ones,
    count (a fact is counted once per run, in the first window that read it). Summaries
    are not webhooks' facts: they are injected once, and left out of the loss rate."""
    by_webhook = by_reconcile = summaries = 0
    fresh: dict[Identity, RawOut] = {}
    events = 0
    for event in mapped_events(fetched, config):
        out = raw_out(event, received_at=now)
        if out.identity in seen:
            continue  # a task created in an earlier window, read again at its end
        seen.add(out.identity)
        who = known.get(out.identity)
        if event["type"] == RECONCILED_TYPE:
            if who is None:
                fresh[out.identity] = out
                summaries += 1
            continue
        events += 1
        if who is not Known.WEBHOOK and event["type"].startswith("agent:"):
            lossy.add(event["data"]["agentId"])
        if who is Known.WEBHOOK:
            by_webhook += 1
        elif who is Known.RECONCILED:
            by_reconcile += 1
        else:
            fresh[out.identity] = out
    if injector is not None and fresh:
        await injector.publish(list(fresh.values()))
    for identity in fresh:
        remember(known, identity, Known.RECONCILED)
    return WindowResult(
        window=window,
        activities=len(fetched.activities),
        tasks=len(fetched.tasks),
        recordings=sum(len(r) for r in fetched.recordings.values()),
        events=events,
        by_webhook=by_webhook,
        by_reconcile=by_reconcile,
        injected=len(fresh) - summaries,
        summaries=summaries,
    )


async def agent_summaries(
    client: WxccApiClient,
    config: JobConfig,
    end: int,
    agents: set[str],
    known: dict[Identity, Known],
    injector: Injector | None,
    now: int,
) -> int:
    """At the end of a run: an `agent:reconciled` summary for each agent the webhooks lost
    a fact of (found in this run, or injected by an earlier one: a run that resumes has
    not read the windows before its checkpoint), from its rows up to `end` (the session's
    login looked for within the lookback), published unless known; how many were new."""
    rows = await fetch_activities(client, end - config.session_lookback_ms, end)
    events = agent_events(rows, config.origin, config.state_change_type)
    agents = agents | {e.entity_id for e in events if known.get(identity_of(e)) is Known.RECONCILED}
    fresh = []
    for event in agent_summary_events(events, agents, config.origin):
        out = raw_out(event, received_at=now)
        if out.identity not in known:
            fresh.append(out)
    if injector is not None and fresh:
        await injector.publish(fresh)
    for out in fresh:
        remember(known, out.identity, Known.RECONCILED)
    return len(fresh)


def _reconciled_agents(known: dict[Identity, Known]) -> bool:
    """Whether an earlier run injected an agent fact the raw topic still shows."""
    return any(i[0] is EntityKind.AGENT and w is Known.RECONCILED for i, w in known.items())

"""The figures a supervisor watches, computed from the documents (pure; clock passed in).

Names follow the vendor's statistics APIs where they exist (docs/api.md defines each):
per team, agents per state and their time in state; per queue, contacts in queue, the
longest current wait and contacts in progress; over a window (default: since midnight in
the org's time zone), tasks accepted (handled) and abandoned, average handled time
(talk + hold + wrap-up), average enqueued time and the service level.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from wxcc_stream.api.entries import AgentEntry, TaskEntry


@dataclass(frozen=True, slots=True)
class Window:
    """A time window [start_ms, end_ms) in epoch milliseconds."""

    start_ms: int
    end_ms: int

    def document(self, zone: ZoneInfo) -> dict[str, Any]:
        return {"from": self.start_ms, "to": self.end_ms, "timeZone": zone.key}


def since_midnight(now_ms: int, zone: ZoneInfo) -> Window:
    """From today's midnight in `zone` (the org's) to now."""
    local = datetime.fromtimestamp(now_ms / 1000, zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    if midnight > local:  # never, but a zone's odd offset change must not give a negative window
        midnight -= timedelta(days=1)
    return Window(int(midnight.timestamp() * 1000), now_ms)


def team_figures(agents: Iterable[AgentEntry], now_ms: int) -> list[dict[str, Any]]:
    """Per team (sorted by id; agents without a team under null): agents, logged in, and
    per state the number of agents and their longest and total current time in it."""
    teams: dict[str | None, dict[str, Any]] = {}
    for agent in agents:
        team = teams.get(agent.team_id)
        if team is None:
            team = teams[agent.team_id] = {
                "teamId": agent.team_id, "agents": 0, "loggedIn": 0, "states": {},
            }  # fmt: skip
        team["agents"] += 1
        team["loggedIn"] += agent.logged_in
        in_state = 0 if agent.state_since is None else max(0, now_ms - agent.state_since)
        state = team["states"].get(agent.state)
        if state is None:
            state = team["states"][agent.state] = {
                "agents": 0, "longestTimeInStateMs": 0, "totalTimeInStateMs": 0,
            }  # fmt: skip
        state["agents"] += 1
        state["longestTimeInStateMs"] = max(state["longestTimeInStateMs"], in_state)
        state["totalTimeInStateMs"] += in_state
    for team in teams.values():
        team["states"] = dict(sorted(team["states"].items()))
    return [teams[k] for k in sorted(teams, key=lambda k: (k is not None, k or ""))]


def queue_figures(live: Iterable[TaskEntry], now_ms: int) -> list[dict[str, Any]]:
    """Per queue of the live (waiting or in progress) tasks: contacts in queue, the
    longest current wait (since the first parked time, else new time) and contacts in
    progress (offered to or handled by an agent)."""
    queues: dict[str | None, dict[str, Any]] = {}
    for task in live:
        queue = queues.get(task.queue_id)
        if queue is None:
            queue = queues[task.queue_id] = {
                "queueId": task.queue_id, "contactsInQueue": 0, "contactsInProgress": 0,
                "longestContactInQueueMs": None, "oldestQueuedSince": None,
            }  # fmt: skip
        if not task.waiting:
            queue["contactsInProgress"] += 1
            continue
        queue["contactsInQueue"] += 1
        since = task.queued_since
        if since is not None and (
            queue["oldestQueuedSince"] is None or since < queue["oldestQueuedSince"]
        ):
            queue["oldestQueuedSince"] = since
            queue["longestContactInQueueMs"] = max(0, now_ms - since)
    return [queues[k] for k in sorted(queues, key=lambda k: (k is not None, k or ""))]


def _mean(values: list[int]) -> int | None:
    return round(sum(values) / len(values)) if values else None


def task_figures(ended: Iterable[TaskEntry], threshold_ms: int) -> dict[str, Any]:
    """Figures of the tasks that ended in a window (see docs/api.md for each)."""
    accepted = abandoned = offered = within = 0
    handle_times: list[int] = []
    waits: list[int] = []
    for task in ended:
        inbound = task.direction != "OUTBOUND"
        if task.queue_wait_ms is not None:
            waits.append(task.queue_wait_ms)
        if task.connected_time is not None:
            accepted += 1
            if task.talk_ms is not None:
                handle_times.append(task.talk_ms + task.hold_ms + task.wrap_up_ms)
        elif inbound:
            abandoned += 1
        if not inbound:
            continue
        offered += 1
        queued = task.queued_since
        if (
            task.connected_time is not None
            and queued is not None
            and task.connected_time - queued <= threshold_ms
        ):
            within += 1
    return {
        "totalAcceptedTasks": accepted,
        "totalAbandonedTasks": abandoned,
        "averageHandledTime": _mean(handle_times),
        "averageEnqueuedTime": _mean(waits),
        "serviceLevelThresholdPercentage": (round(100 * within / offered, 1) if offered else None),
        "serviceLevelOffered": offered,
        "serviceLevelWithin": within,
    }


def window_figures(
    ended: Iterable[TaskEntry], threshold_ms: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The figures of all tasks that ended in a window, and per queue (sorted by id)."""
    tasks = list(ended)
    by_queue: dict[str | None, list[TaskEntry]] = {}
    for task in tasks:
        by_queue.setdefault(task.queue_id, []).append(task)
    per_queue = [
        {"queueId": queue, **task_figures(by_queue[queue], threshold_ms)}
        for queue in sorted(by_queue, key=lambda k: (k is not None, k or ""))
    ]
    return task_figures(tasks, threshold_ms), per_queue

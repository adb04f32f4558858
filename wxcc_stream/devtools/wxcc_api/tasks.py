"""The API's view of tasks: Search (`taskDetails`) records derived from a scenario.

A task's record at the API's clock is a fold of the task's own events up to that time
(task:*, the agents' state changes on it, its captures), in the vendor's field names and
units (ms). `lastAgent` is the agent that accepted the last offer; consultations do not
change it. Durations of a task still going run up to the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wxcc_stream.devtools.scenario import Directory, Scenario
from wxcc_stream.devtools.scenario.vocabulary import TASK_STATUS as _STATUS
from wxcc_stream.devtools.wxcc_api.activities import SITE_ID, names_of

_AGENT_TYPES = ("agent:state_change", "agent:channel_state_change")


@dataclass(frozen=True, slots=True)
class TaskHistory:
    """One task's events in order, and its creation time (the Search API's index)."""

    task_id: str
    created: int
    events: tuple[dict[str, Any], ...]


def task_histories(scenario: Scenario) -> tuple[TaskHistory, ...]:
    """Every task of the day with its events, sorted by creation time."""
    by_task: dict[str, list[dict[str, Any]]] = {}
    for event in scenario.events:
        task_id = event["data"].get("taskId")
        if task_id is not None and (
            event["type"].startswith(("task:", "capture:")) or event["type"] in _AGENT_TYPES
        ):
            by_task.setdefault(task_id, []).append(event)
    histories = [
        TaskHistory(task_id, events[0]["data"]["createdTime"], tuple(events))
        for task_id, events in by_task.items()
    ]
    return tuple(sorted(histories, key=lambda h: (h.created, h.task_id)))


@dataclass(slots=True)
class _Fold:
    """Running totals of one task while its events are read (local to `task_record`)."""

    status: str = "new"
    ended: int | None = None
    queue_id: str | None = None
    offered_to: str | None = None
    owner: str | None = None
    last_offer: int | None = None
    ringing: int | None = None
    connected_count: int = 0
    first_connected: int | None = None
    queue_since: int | None = None
    queue_count: int = 0
    queue_ms: int = 0
    transfers: int = 0
    open_since: dict[str, int] = field(default_factory=dict)  # hold/consult/conference
    counts: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    wrapup_since: dict[str, int] = field(default_factory=dict)
    wrapup_ms: int = 0
    wrapup_code: str | None = None
    terminating_party: str | None = None
    reason: str | None = None
    captures: int = 0

    def start(self, what: str, t: int) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1
        self.open_since.setdefault(what, t)

    def stop(self, what: str, t: int) -> None:
        since = self.open_since.pop(what, None)
        if since is not None:
            self.totals[what] = self.totals.get(what, 0) + t - since


_STARTS = {"task:on-hold": "hold", "task:consulting": "consult", "task:conferencing": "conference"}
_STOPS = {
    "task:hold-done": "hold",
    "task:consult-done": "consult",
    "task:conference-done": "conference",
}


def _task_event(fold: _Fold, event_type: str, data: dict[str, Any], t: int) -> None:
    before, fold.status = fold.status, _STATUS[event_type]
    fold.queue_id = data.get("queueId", fold.queue_id)
    if event_type == "task:new":
        fold.queue_since = t
    elif event_type == "task:parked":
        fold.queue_count += 1
        fold.transfers += before == "connected"  # parked again after talking: a transfer
        if fold.queue_since is None:
            fold.queue_since = t
    elif event_type == "task:connect":
        fold.last_offer = t
        if fold.queue_since is not None:
            fold.queue_ms += t - fold.queue_since
            fold.queue_since = None
    elif event_type == "task:connected":
        fold.connected_count += 1
        fold.owner = fold.offered_to
        if fold.first_connected is None:
            fold.first_connected = t
            fold.ringing = None if fold.last_offer is None else t - fold.last_offer
    elif event_type in _STARTS:
        fold.start(_STARTS[event_type], t)
    elif event_type in _STOPS:
        fold.stop(_STOPS[event_type], t)
        if event_type == "task:conference-done":
            fold.stop("consult", t)
    elif event_type == "task:ended":
        fold.ended = t
        for what in list(fold.open_since):
            fold.stop(what, t)
        if fold.queue_since is not None:
            fold.queue_ms += t - fold.queue_since
            fold.queue_since = None
        fold.terminating_party, fold.reason = data.get("terminatingParty"), data.get("reason")


def _agent_event(fold: _Fold, data: dict[str, Any], t: int) -> None:
    agent_id, state = data["agentId"], str(data["currentState"]).lower()
    if state == "ringing" and fold.status == "connect":
        fold.offered_to = agent_id
    elif state == "wrapup":
        fold.wrapup_since[agent_id] = t
    elif state == "wrapup-done":
        since = fold.wrapup_since.pop(agent_id, None)
        fold.wrapup_ms += 0 if since is None else t - since
        fold.wrapup_code = data.get("wrapUpAuxCodeId")


def task_record(history: TaskHistory, directory: Directory, now_ms: int) -> dict[str, Any]:
    """The task's Search record at `now_ms` (its events after it are not known yet)."""
    fold = _Fold()
    first = history.events[0]["data"]
    for event in history.events:
        data, t = event["data"], event["data"]["createdTime"]
        if t > now_ms:
            break
        if event["type"] in _STATUS:
            _task_event(fold, event["type"], data, t)
        elif event["type"] in _AGENT_TYPES:
            _agent_event(fold, data, t)
        else:
            fold.captures += 1
    return _render(history, first, fold, directory, now_ms)


def _render(
    history: TaskHistory, first: dict[str, Any], fold: _Fold, directory: Directory, now_ms: int
) -> dict[str, Any]:
    end = fold.ended if fold.ended is not None else now_ms
    names = names_of(directory)
    agents, teams, queues, codes = names.agents, names.teams, names.queues, names.codes
    owner = agents.get(fold.owner) if fold.owner else None
    hold = fold.totals.get("hold", 0) + (end - fold.open_since.get("hold", end))
    connected = 0 if fold.first_connected is None else max(0, end - fold.first_connected - hold)
    party = fold.terminating_party
    return {
        "id": history.task_id,
        "status": fold.status,
        "origin": first["origin"],
        "destination": first["destination"],
        "createdTime": history.created,
        "endedTime": fold.ended,
        "isActive": fold.ended is None,
        "direction": first["direction"],
        "channelType": first["channelType"],
        "channelSubType": None,
        "owner": None if owner is None else {"id": owner.id, "name": owner.name},
        "lastAgent": None if owner is None else {"id": owner.id, "name": owner.name},
        "lastTeam": None
        if owner is None
        else {"id": owner.team_id, "name": teams.get(owner.team_id)},
        "lastSite": None if owner is None else {"id": SITE_ID, "name": "Site 1"},
        "lastEntryPoint": None,
        "lastQueue": None
        if fold.queue_id is None
        else {"id": fold.queue_id, "name": queues.get(fold.queue_id)},
        "totalDuration": end - history.created,
        "connectedCount": fold.connected_count,
        "connectedDuration": connected,
        "holdCount": fold.counts.get("hold", 0),
        "holdDuration": hold,
        "consultCount": fold.counts.get("consult", 0),
        "consultDuration": fold.totals.get("consult", 0),
        "conferenceCount": fold.counts.get("conference", 0),
        "conferenceDuration": fold.totals.get("conference", 0),
        "queueCount": fold.queue_count,
        "queueDuration": fold.queue_ms,
        "ringingDuration": fold.ringing or 0,
        "wrapupDuration": fold.wrapup_ms,
        "lastWrapupCodeName": codes.get(fold.wrapup_code) if fold.wrapup_code else None,
        "terminationType": _termination(fold),
        "terminationReason": fold.reason,
        "terminatingEnd": party.lower() if party else None,
        "transferCount": fold.transfers,
        "blindTransferCount": 0,
        "captureRequested": fold.captures > 0,
        "contactReason": None,
        "recordingLocation": None,
    }


def _termination(fold: _Fold) -> str | None:
    if fold.ended is None:
        return None
    return "normal" if fold.connected_count else "abandoned"

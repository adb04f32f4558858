"""The API's view of agents: `GET /v1/agents/activities` rows derived from a scenario.

One row per agent event the generator emitted (login, state change, logout), in the
vendor's field names (wxcc-api.md): a row lasts from its `startTime` until the agent's next
row starts; `endTime` is -1 while the row is still going at the API's clock. A logout is a
row of its own (`currentState` "logout", zero length): the vendor does not document how a
logout shows in this API, so the client accepts either reading (docs/reconciliation.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from wxcc_stream.devtools.scenario import Directory, Scenario

SITE_ID = "site-1"  # the generator has no sites; the API always names one
_SESSION_NAMESPACE = uuid.UUID("6f1d3c1e-5b7a-4f7e-9a52-8a3c2b4f0d11")
_AGENT_TYPES = ("agent:login", "agent:logout", "agent:state_change", "agent:channel_state_change")


@dataclass(frozen=True, slots=True)
class Activity:
    """One activity row as of the end of the day; `end` None: never ended."""

    start: int
    end: int | None
    fields: dict[str, Any]

    def at(self, now_ms: int) -> dict[str, Any]:
        """The row as the API shows it at `now_ms` (still active: endTime -1)."""
        active = self.end is None or self.end > now_ms
        return {
            **self.fields,
            "startTime": self.start,
            "endTime": -1 if active else self.end,
            "active": active,
        }


def agent_activities(scenario: Scenario) -> tuple[Activity, ...]:
    """Every activity row of the day, sorted by startTime (stable for paging)."""
    names = names_of(scenario.directory)
    channels = {
        e["data"]["taskId"]: e["data"]["channelType"]
        for e in scenario.events
        if e["type"] == "task:new"
    }
    rows: list[list[Any]] = []  # [start, end, fields]
    open_row: dict[str, int] = {}
    session: dict[str, str] = {}
    for event in scenario.events:
        if event["type"] not in _AGENT_TYPES:
            continue
        data = event["data"]
        agent_id, t = data["agentId"], data["createdTime"]
        if agent_id in open_row:
            rows[open_row.pop(agent_id)][1] = t
        if event["type"] == "agent:login":
            session[agent_id] = str(uuid.uuid5(_SESSION_NAMESPACE, f"{agent_id}:{t}"))
        fields = names.row(event["type"], data, session.get(agent_id), channels)
        if event["type"] == "agent:logout":
            rows.append([t, t, fields])
            continue
        open_row[agent_id] = len(rows)
        rows.append([t, None, fields])
    order = sorted(range(len(rows)), key=lambda i: (rows[i][0], i))
    return tuple(Activity(rows[i][0], rows[i][1], rows[i][2]) for i in order)


@cache
def names_of(directory: Directory) -> Names:
    """The directory's lookups, built once per directory."""
    return Names(directory)


class Names:
    """Looks up the names the API adds to what the webhooks carry (agents, teams, codes)."""

    def __init__(self, directory: Directory) -> None:
        self.agents = {a.id: a for a in directory.agents}
        self.teams = {t.id: t.name for t in directory.teams}
        self.queues = {q.id: q.name for q in directory.queues}
        self.codes = {c.id: c.name for c in (*directory.idle_codes, *directory.wrapup_codes)}

    def row(
        self,
        event_type: str,
        data: dict[str, Any],
        session_id: str | None,
        channels: dict[str, str],
    ) -> dict[str, Any]:
        """The activity row's fields (times apart) for one agent event."""
        agent = self.agents[data["agentId"]]
        task_id = data.get("taskId")
        channel = channels.get(task_id) if task_id else None
        state = "logout" if event_type == "agent:logout" else str(data["currentState"]).lower()
        idle_code = data.get("idleCodeId") if state == "idle" else None
        wrapup = data.get("wrapUpAuxCodeId")
        queue_id = data.get("queueId")
        return {
            "agentId": agent.id,
            "agentSessionId": session_id,
            "agentName": agent.name,
            "agentDn": agent.destination,
            "teamId": agent.team_id,
            "teamName": self.teams.get(agent.team_id),
            "siteId": SITE_ID,
            "currentState": state,
            "isLogin": 1 if event_type == "agent:login" else 0,
            "taskId": task_id,
            "channelId": agent.channel_id(channel) if channel else None,
            "channelType": channel,
            "idleCode": idle_code,
            "idleCodeName": self.codes.get(idle_code) if idle_code else None,
            "queueId": queue_id,
            "queueName": self.queues.get(queue_id) if queue_id else None,
            "wrapupCodeName": self.codes.get(wrapup) if wrapup else None,
            "reason": data.get("loggedOutBy"),
            "mmProfileType": agent.profile_type,
        }

"""Ground truth: the projection documents the generator expects, kept from its own model.

The simulator tells these ledgers what it did, in model terms ("agent A entered
`connected` at t", "the hold that started at t0 ended at t1", "these are A's tasks now"),
at the moment it does it. They never read an emitted event back. The documents they
produce follow docs/projections.md for the complete, undamaged event set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
LOGGED_OUT = "logged-out"
LEG_DONE = "done"

# (createdTime, tiebreak rank, ce id): the contract's fold order.
EventKey = tuple[int, int, str]


def _sorted_times(times: dict[str, int]) -> dict[str, int]:
    return {name: times[name] for name in sorted(times)}


@dataclass(slots=True)
class AgentLedger:
    """What the model knows about one agent, shaped as its agent-state document."""

    agent_id: str
    org_id: str
    team_id: str | None = None
    logged_in: bool = False
    state: str = LOGGED_OUT
    state_since: int | None = None
    idle_code_id: str | None = None
    wrapup_code_id: str | None = None
    task_ids: tuple[str, ...] = ()
    connected_channels: list[str] | None = None
    destination: str | None = None
    profile_type: str | None = None
    session_start: int | None = None
    time_in_state: dict[str, int] = field(default_factory=dict)
    last: EventKey | None = None
    revision: int = 0

    def counted(self, key: EventKey) -> None:
        """One more distinct event of this agent."""
        self.revision += 1
        if self.last is None or key > self.last:
            self.last = key

    def enter(self, t: int, state: str) -> None:
        """The agent is in `state` from `t` (no change when it already was)."""
        if state == self.state:
            return
        if self.state != LOGGED_OUT and self.state_since is not None:
            self.time_in_state[self.state] = (
                self.time_in_state.get(self.state, 0) + t - self.state_since
            )
        self.state = state
        self.state_since = t

    def start_session(self, t: int, state: str) -> None:
        """A login: the time of the previous state is kept, then the session restarts."""
        self.enter(t, state)
        self.time_in_state = {}
        self.state_since = t
        self.session_start = t
        self.logged_in = True

    def document(self) -> dict[str, Any]:
        """The agent-state projection document."""
        return {
            "agentId": self.agent_id,
            "orgId": self.org_id,
            "teamId": self.team_id,
            "loggedIn": self.logged_in,
            "state": self.state,
            "stateSince": self.state_since,
            "idleCodeId": self.idle_code_id,
            "wrapUpAuxCodeId": self.wrapup_code_id,
            "taskIds": sorted(self.task_ids),
            "connectedChannels": (
                None if self.connected_channels is None else list(self.connected_channels)
            ),
            "destination": self.destination,
            "profileType": self.profile_type,
            "sessionStart": self.session_start,
            "timeInState": _sorted_times(self.time_in_state),
            "lastEventTime": None if self.last is None else self.last[0],
            "lastEventId": None if self.last is None else self.last[2],
            "revision": self.revision,
            "schema_version": SCHEMA_VERSION,
        }


@dataclass(slots=True)
class LegLedger:
    """One agent's part in one task."""

    state: str | None = None
    since: int | None = None
    time_in_state: dict[str, int] = field(default_factory=dict)
    wrapup_code_id: str | None = None

    def enter(self, t: int, state: str) -> None:
        """The agent is in `state` on this task from `t`; time in "done" is not counted."""
        if state == self.state:
            return
        if self.state is not None and self.state != LEG_DONE and self.since is not None:
            self.time_in_state[self.state] = self.time_in_state.get(self.state, 0) + t - self.since
        self.state = state
        self.since = t

    def document(self) -> dict[str, Any]:
        """The leg as it appears in the task document."""
        return {
            "state": self.state,
            "since": self.since,
            "timeInState": _sorted_times(self.time_in_state),
            "wrapUpAuxCodeId": self.wrapup_code_id,
        }


@dataclass(slots=True)
class TaskLedger:
    """What the model knows about one task, shaped as its task-lifecycle document."""

    task_id: str
    org_id: str
    channel_type: str
    direction: str
    outbound_type: str | None
    origin: str
    destination: str
    queue_id: str | None = None
    status: str | None = None
    new_time: int | None = None
    parked_time: int | None = None
    connect_time: int | None = None
    connected_time: int | None = None
    ended_time: int | None = None
    ring_ms: int | None = None
    last_offer_time: int | None = None
    hold_count: int = 0
    hold_ms: int = 0
    hold_open_since: int | None = None
    consult_count: int = 0
    conference_count: int = 0
    legs: dict[str, LegLedger] = field(default_factory=dict)
    terminating_party: str | None = None
    reason: str | None = None
    captures: list[str] = field(default_factory=list)
    last: EventKey | None = None
    revision: int = 0

    def counted(self, key: EventKey) -> None:
        """One more distinct event of this task."""
        self.revision += 1
        if self.last is None or key > self.last:
            self.last = key

    def leg(self, agent_id: str) -> LegLedger:
        """The agent's leg, created on first use."""
        found = self.legs.get(agent_id)
        if found is None:
            found = self.legs[agent_id] = LegLedger()
        return found

    def hold_started(self, t: int) -> None:
        """A task:on-hold."""
        self.hold_count += 1
        if self.hold_open_since is None:
            self.hold_open_since = t

    def hold_ended(self, t: int) -> None:
        """A task:hold-done, or a task:ended (which closes an open hold)."""
        if self.hold_open_since is not None:
            self.hold_ms += t - self.hold_open_since
            self.hold_open_since = None

    def offered(self, t: int) -> None:
        """A task:connect (an offer to an agent)."""
        if self.connect_time is None:
            self.connect_time = t
        self.last_offer_time = t

    def accepted(self, t: int) -> None:
        """A task:connected."""
        if self.connected_time is None:
            self.connected_time = t
            if self.last_offer_time is not None:
                self.ring_ms = t - self.last_offer_time

    def document(self) -> dict[str, Any]:
        """The task-lifecycle projection document."""
        queued_at = self.parked_time if self.parked_time is not None else self.new_time
        queue_wait = (
            None
            if self.connect_time is None or queued_at is None
            else self.connect_time - queued_at
        )
        talk = (
            None
            if self.ended_time is None or self.connected_time is None
            else self.ended_time - self.connected_time - self.hold_ms
        )
        wrapup = sum(leg.time_in_state.get("wrapup", 0) for leg in self.legs.values())
        return {
            "taskId": self.task_id,
            "orgId": self.org_id,
            "channelType": self.channel_type,
            "direction": self.direction,
            "outboundType": self.outbound_type,
            "origin": self.origin,
            "destination": self.destination,
            "queueId": self.queue_id,
            "status": self.status,
            "newTime": self.new_time,
            "parkedTime": self.parked_time,
            "connectTime": self.connect_time,
            "connectedTime": self.connected_time,
            "endedTime": self.ended_time,
            "queueWaitMs": queue_wait,
            "ringMs": self.ring_ms,
            "talkMs": talk,
            "holdCount": self.hold_count,
            "holdMs": self.hold_ms,
            "consultCount": self.consult_count,
            "conferenceCount": self.conference_count,
            "wrapUpMs": wrapup,
            "agentIds": sorted(self.legs),
            "legs": {agent: self.legs[agent].document() for agent in sorted(self.legs)},
            "terminatingParty": self.terminating_party,
            "reason": self.reason,
            "captures": sorted(set(self.captures)),
            "lastEventTime": None if self.last is None else self.last[0],
            "lastEventId": None if self.last is None else self.last[2],
            "revision": self.revision,
            "schema_version": SCHEMA_VERSION,
        }

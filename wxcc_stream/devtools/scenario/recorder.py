"""Turns what the simulator does into CloudEvents, and into the ledgers of the ground truth.

Each call is one thing that happened; it returns the event's createdTime. That time is the
requested one unless the entity's order needs a later millisecond: an entity's events
must have strictly increasing (createdTime, tiebreak rank), so that the contract's fold
order is the order in which they happened, and no two distinct events of a task may look
like one (same type, time and state).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from wxcc_stream.devtools.scenario.config import ScenarioConfig
from wxcc_stream.devtools.scenario.directory import AgentProfile, Code, new_uuid
from wxcc_stream.devtools.scenario.truth import LOGGED_OUT, AgentLedger, TaskLedger
from wxcc_stream.devtools.scenario.vocabulary import (
    AGENT_CHANNEL_STATE_CHANGE,
    AGENT_LOGIN,
    AGENT_LOGOUT,
    AGENT_MEANING,
    AGENT_RANK,
    AGENT_STATE_CHANGE,
    AVAILABLE,
    CAPTURE_AVAILABLE,
    IDLE,
    LEG_MEANING,
    TASK_CONFERENCING,
    TASK_CONNECT,
    TASK_CONNECTED,
    TASK_CONSULTING,
    TASK_ENDED,
    TASK_HOLD_DONE,
    TASK_NEW,
    TASK_ON_HOLD,
    TASK_PARKED,
    TASK_RANK,
    TASK_STATUS,
    VENDOR_FIELDS,
    WRAPUP_DONE,
)

ORG_ATTRIBUTE = "comciscoorgid"
ALT_ORG_ATTRIBUTE = "comciscocorgid"
TIMESTAMP_ATTRIBUTE = "comciscotimestamp"
_CAPITALISABLE = frozenset({IDLE, AVAILABLE})


class TaskView(Protocol):
    """What the recorder reads of a task."""

    id: str
    channel: str
    direction: str
    outbound_type: str | None
    origin: str
    destination: str
    queue_id: str


@dataclass(slots=True)
class Recorder:
    """Collects events (with their emission order) and the truth ledgers."""

    config: ScenarioConfig
    _ids: random.Random = field(init=False)
    _style: random.Random = field(init=False)
    _events: list[tuple[int, int, dict[str, Any]]] = field(init=False, default_factory=list)
    agents: dict[str, AgentLedger] = field(init=False, default_factory=dict)
    tasks: dict[str, TaskLedger] = field(init=False, default_factory=dict)
    _agent_order: dict[str, tuple[int, int]] = field(init=False, default_factory=dict)
    _task_order: dict[str, tuple[int, int]] = field(init=False, default_factory=dict)
    _task_states: dict[str, set[tuple[int, str]]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Own streams for ids and for presentation (spellings, v2), so neither shifts the
        # behaviour of the simulation.
        self._ids = random.Random(f"wxcc-event-ids:{self.config.seed}")
        self._style = random.Random(f"wxcc-event-style:{self.config.seed}")

    # --- agent events -------------------------------------------------------------------

    def login(self, agent: AgentProfile, t: int, idle_code: Code) -> int:
        """agent:login, in the idle state with an idle code."""
        t = self._agent_time(agent.id, t, AGENT_RANK[AGENT_LOGIN])
        data = {
            "agentId": agent.id,
            "destination": agent.destination,
            "profileType": agent.profile_type,
            "idleCodeId": idle_code.id,
            "currentState": self._spell(IDLE),
            "createdTime": t,
            "teamId": agent.team_id,
        }
        event = self._emit(AGENT_LOGIN, data, t)
        ledger = self._agent(agent.id)
        ledger.counted((t, AGENT_RANK[AGENT_LOGIN], event["id"]))
        ledger.start_session(t, IDLE)
        ledger.team_id = agent.team_id
        ledger.destination = agent.destination
        ledger.profile_type = agent.profile_type
        ledger.idle_code_id = idle_code.id
        ledger.task_ids = ()
        return t

    def logout(self, agent: AgentProfile, t: int, logged_out_by: str) -> int:
        """agent:logout."""
        t = self._agent_time(agent.id, t, AGENT_RANK[AGENT_LOGOUT])
        data = {
            "agentId": agent.id,
            "currentState": LOGGED_OUT,
            "loggedOutBy": logged_out_by,
            "createdTime": t,
        }
        event = self._emit(AGENT_LOGOUT, data, t)
        ledger = self._agent(agent.id)
        ledger.counted((t, AGENT_RANK[AGENT_LOGOUT], event["id"]))
        ledger.enter(t, LOGGED_OUT)
        ledger.logged_in = False
        ledger.task_ids = ()
        return t

    def agent_state(
        self,
        agent: AgentProfile,
        t: int,
        state: str,
        *,
        task: TaskView | None,
        task_ids: Sequence[str],
        channels: Sequence[str],
        idle_code: Code | None = None,
        wrapup_code: Code | None = None,
        shared_instant: bool = False,
    ) -> int:
        """agent:state_change; `task_ids` and `channels` are the agent's after the change.

        `shared_instant`: another agent of the task may be in this state at this very ms
        (the contract tells their legs apart by agent id); otherwise the time moves on.
        """
        rank = AGENT_RANK[AGENT_STATE_CHANGE]
        t = self._agent_time(agent.id, t, rank)
        if task is not None:
            taken = self._task_states.setdefault(task.id, set())
            while (t, state) in taken and not shared_instant:
                t += 1
            taken.add((t, state))
            self._agent_order[agent.id] = (t, rank)
        fields: dict[str, Any] = {
            "agentId": agent.id,
            "currentState": self._spell(state),
            "destination": agent.destination,
            "createdTime": t,
            "connectedChannels": list(channels),
            "teamId": agent.team_id,
        }
        if task is not None:
            fields["taskId"] = task.id
            fields["queueId"] = task.queue_id
        if state == IDLE:
            fields["idleCodeId"] = None if idle_code is None else idle_code.id
        elif state == AVAILABLE:
            fields["idleCodeId"] = None
        if state == WRAPUP_DONE:
            fields["wrapUpAuxCodeId"] = None if wrapup_code is None else wrapup_code.id
        event_type = self._state_change_type()
        event = self._emit(event_type, _in_vendor_order(event_type, fields), t)

        ledger = self._agent(agent.id)
        ledger.counted((t, rank, event["id"]))
        ledger.enter(t, AGENT_MEANING[state])
        ledger.logged_in = True
        ledger.team_id = agent.team_id
        ledger.destination = agent.destination
        ledger.connected_channels = list(channels)
        ledger.task_ids = tuple(task_ids)
        if "idleCodeId" in fields:
            ledger.idle_code_id = fields["idleCodeId"]
        if "wrapUpAuxCodeId" in fields:
            ledger.wrapup_code_id = fields["wrapUpAuxCodeId"]
        if task is not None:
            task_ledger = self.tasks[task.id]
            task_ledger.counted((t, TASK_RANK[AGENT_STATE_CHANGE], event["id"]))
            leg = task_ledger.leg(agent.id)
            leg.enter(t, LEG_MEANING[state])
            if "wrapUpAuxCodeId" in fields:
                leg.wrapup_code_id = fields["wrapUpAuxCodeId"]
        return t

    # --- task events --------------------------------------------------------------------

    def task_event(
        self, task: TaskView, event_type: str, t: int, *, ended: tuple[str, str] | None = None
    ) -> int:
        """One task:* event; `ended` is (terminatingParty, reason) for task:ended."""
        rank = TASK_RANK[event_type]
        t = self._task_time(task.id, t, rank)
        values: dict[str, Any] = {
            "taskId": task.id,
            "origin": task.origin,
            "destination": task.destination,
            "direction": task.direction,
            "channelType": task.channel,
            "outboundType": task.outbound_type,
            "queueId": task.queue_id,
            "createdTime": t,
        }
        if ended is not None:
            values["terminatingParty"], values["reason"] = ended
        data = {key: values[key] for key in VENDOR_FIELDS[event_type]}
        event = self._emit(event_type, data, t)

        ledger = self.tasks.get(task.id)
        if ledger is None:
            ledger = self.tasks[task.id] = TaskLedger(
                task_id=task.id,
                org_id=self.config.org_id,
                channel_type=task.channel,
                direction=task.direction,
                outbound_type=task.outbound_type,
                origin=task.origin,
                destination=task.destination,
            )
        ledger.counted((t, rank, event["id"]))
        ledger.status = TASK_STATUS[event_type]
        if "queueId" in data:
            ledger.queue_id = task.queue_id
        if event_type == TASK_NEW and ledger.new_time is None:
            ledger.new_time = t
        elif event_type == TASK_PARKED and ledger.parked_time is None:
            ledger.parked_time = t
        elif event_type == TASK_CONNECT:
            ledger.offered(t)
        elif event_type == TASK_CONNECTED:
            ledger.accepted(t)
        elif event_type == TASK_ON_HOLD:
            ledger.hold_started(t)
        elif event_type == TASK_HOLD_DONE:
            ledger.hold_ended(t)
        elif event_type == TASK_CONSULTING:
            ledger.consult_count += 1
        elif event_type == TASK_CONFERENCING:
            ledger.conference_count += 1
        elif event_type == TASK_ENDED:
            ledger.ended_time = t
            ledger.hold_ended(t)
            ledger.terminating_party, ledger.reason = data["terminatingParty"], data["reason"]
        return t

    def capture(self, task: TaskView, t: int, file_path: str) -> int:
        """capture:available for a recording of the task."""
        rank = TASK_RANK[CAPTURE_AVAILABLE]
        t = self._task_time(task.id, t, rank)
        data = {"taskId": task.id, "filePath": file_path, "createdTime": t}
        event = self._emit(CAPTURE_AVAILABLE, data, t)
        ledger = self.tasks[task.id]
        ledger.counted((t, rank, event["id"]))
        ledger.captures.append(file_path)
        return t

    # --- results ------------------------------------------------------------------------

    def events(self) -> tuple[dict[str, Any], ...]:
        """Every event, in event-time order (emission order within one millisecond)."""
        return tuple(event for _, _, event in sorted(self._events, key=lambda e: e[:2]))

    # --- internals ----------------------------------------------------------------------

    def _agent(self, agent_id: str) -> AgentLedger:
        ledger = self.agents.get(agent_id)
        if ledger is None:
            ledger = self.agents[agent_id] = AgentLedger(agent_id, self.config.org_id)
        return ledger

    def _agent_time(self, agent_id: str, t: int, rank: int) -> int:
        t = _after(self._agent_order.get(agent_id), t, rank)
        self._agent_order[agent_id] = (t, rank)
        return t

    def _task_time(self, task_id: str, t: int, rank: int) -> int:
        t = _after(self._task_order.get(task_id), t, rank)
        self._task_order[task_id] = (t, rank)
        return t

    def _state_change_type(self) -> str:
        fraction = self.config.channel_state_fraction
        # no draw at 0, so v1-only scenarios stay the same as before the option existed
        if fraction and self._style.random() < fraction:
            return AGENT_CHANNEL_STATE_CHANGE
        return AGENT_STATE_CHANGE

    def _spell(self, state: str) -> str:
        if (
            state in _CAPITALISABLE
            and self._style.random() < self.config.capitalised_state_fraction
        ):
            return state.capitalize()
        return state

    def _emit(self, event_type: str, data: dict[str, Any], t: int) -> dict[str, Any]:
        config = self.config
        org_attribute = (
            ALT_ORG_ATTRIBUTE
            if self._style.random() < config.alt_org_attribute_fraction
            else ORG_ATTRIBUTE
        )
        event: dict[str, Any] = {
            "id": new_uuid(self._ids),
            "specversion": "1.0",
            "type": event_type,
            "source": config.source,
            org_attribute: config.org_id,
            "datacontenttype": "application/json",
            "data": data,
        }
        if self._style.random() < config.v2_fraction:
            low, high = config.timings.delivery_lag
            stamp = t + self._style.randint(low, high)
            event[TIMESTAMP_ATTRIBUTE] = stamp if self._style.random() < 0.5 else str(stamp)
        self._events.append((t, len(self._events), event))
        return event


def _after(previous: tuple[int, int] | None, t: int, rank: int) -> int:
    """`t`, or the first ms that puts (t, rank) strictly after `previous`."""
    if previous is not None and (t, rank) <= previous:
        return previous[0] + 1
    return t


def _in_vendor_order(event_type: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {key: fields[key] for key in VENDOR_FIELDS[event_type] if key in fields}

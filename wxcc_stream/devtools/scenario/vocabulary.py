"""The vendor's event vocabulary: types, data fields per type, agent states, tiebreak ranks."""

from __future__ import annotations

from typing import Final

AGENT_LOGIN: Final = "agent:login"
AGENT_LOGOUT: Final = "agent:logout"
AGENT_STATE_CHANGE: Final = "agent:state_change"
# The v2 API's name for the same change (wxcc-api.md); folded exactly like it.
AGENT_CHANNEL_STATE_CHANGE: Final = "agent:channel_state_change"
CAPTURE_AVAILABLE: Final = "capture:available"
TASK_NEW: Final = "task:new"
TASK_PARKED: Final = "task:parked"
TASK_CONNECT: Final = "task:connect"
TASK_CONNECTED: Final = "task:connected"
TASK_ON_HOLD: Final = "task:on-hold"
TASK_HOLD_DONE: Final = "task:hold-done"
TASK_CONSULTING: Final = "task:consulting"
TASK_CONSULT_DONE: Final = "task:consult-done"
TASK_CONFERENCING: Final = "task:conferencing"
TASK_CONFERENCE_DONE: Final = "task:conference-done"
TASK_ENDED: Final = "task:ended"

_TASK_COMMON = ("taskId", "origin", "destination", "direction", "channelType", "outboundType")

# Data fields the vendor reference lists per type (createdTime added where it forgot it:
# without it an event's time would depend on when it is received).
VENDOR_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    AGENT_LOGIN: (
        "agentId",
        "destination",
        "profileType",
        "idleCodeId",
        "currentState",
        "createdTime",
        "teamId",
    ),
    AGENT_LOGOUT: ("agentId", "currentState", "loggedOutBy", "createdTime"),
    AGENT_STATE_CHANGE: (
        "agentId",
        "currentState",
        "destination",
        "queueId",
        "taskId",
        "createdTime",
        "idleCodeId",
        "connectedChannels",
        "wrapUpAuxCodeId",
        "teamId",
    ),
    CAPTURE_AVAILABLE: ("taskId", "filePath", "createdTime"),
    TASK_NEW: (*_TASK_COMMON, "createdTime"),
    TASK_PARKED: (*_TASK_COMMON, "queueId", "createdTime"),
    TASK_CONNECT: (*_TASK_COMMON, "queueId", "createdTime"),
    TASK_CONNECTED: (*_TASK_COMMON, "queueId", "createdTime"),
    TASK_ON_HOLD: (*_TASK_COMMON, "queueId", "createdTime"),
    TASK_HOLD_DONE: (*_TASK_COMMON, "queueId", "createdTime"),
    TASK_CONSULTING: (*_TASK_COMMON, "queueId", "createdTime"),
    TASK_CONSULT_DONE: (*_TASK_COMMON, "queueId", "createdTime"),
    TASK_CONFERENCING: (*_TASK_COMMON, "queueId", "createdTime"),
    TASK_CONFERENCE_DONE: ("taskId", "origin", "destination", "createdTime"),
    TASK_ENDED: (*_TASK_COMMON, "terminatingParty", "reason", "queueId", "createdTime"),
}

VENDOR_FIELDS[AGENT_CHANNEL_STATE_CHANGE] = VENDOR_FIELDS[AGENT_STATE_CHANGE]

EVENT_TYPES: Final = tuple(VENDOR_FIELDS)
TASK_TYPES: Final = tuple(t for t in EVENT_TYPES if t.startswith("task:"))

# Tiebreak ranks of docs/projections.md (lower first at equal createdTime).
AGENT_RANK: Final[dict[str, int]] = {
    AGENT_LOGIN: 0,
    AGENT_STATE_CHANGE: 1,
    AGENT_CHANNEL_STATE_CHANGE: 1,
    AGENT_LOGOUT: 2,
}
TASK_RANK: Final[dict[str, int]] = {
    TASK_NEW: 0,
    TASK_PARKED: 1,
    TASK_CONNECT: 2,
    TASK_CONNECTED: 3,
    TASK_ON_HOLD: 4,
    TASK_HOLD_DONE: 5,
    TASK_CONSULTING: 6,
    TASK_CONSULT_DONE: 7,
    TASK_CONFERENCING: 8,
    TASK_CONFERENCE_DONE: 9,
    AGENT_STATE_CHANGE: 10,
    AGENT_CHANNEL_STATE_CHANGE: 10,
    TASK_ENDED: 11,
    CAPTURE_AVAILABLE: 12,
}

# Task status each task:* type leaves the task in.
TASK_STATUS: Final[dict[str, str]] = {
    TASK_NEW: "new",
    TASK_PARKED: "parked",
    TASK_CONNECT: "connect",
    TASK_CONNECTED: "connected",
    TASK_ON_HOLD: "on-hold",
    TASK_HOLD_DONE: "connected",
    TASK_CONSULTING: "consulting",
    TASK_CONSULT_DONE: "connected",
    TASK_CONFERENCING: "conferencing",
    TASK_CONFERENCE_DONE: "connected",
    TASK_ENDED: "ended",
}

# Agent states (currentState) the simulator reports, and what each means for the agent
# (agent-state `state`) and for its leg on the task (task-lifecycle `legs[a].state`).
IDLE = "idle"
AVAILABLE = "available"
RINGING = "ringing"
NOT_RESPONDING = "not-responding"
CONNECTED = "connected"
ON_HOLD = "on-hold"
HOLD_DONE = "hold-done"
CONSULTING = "consulting"
CONSULT_DONE = "consult-done"
CONFERENCING = "conferencing"
WRAPUP = "wrapup"
WRAPUP_DONE = "wrapup-done"

TASK_STATES: Final = frozenset(
    {
        RINGING,
        NOT_RESPONDING,
        CONNECTED,
        ON_HOLD,
        HOLD_DONE,
        CONSULTING,
        CONSULT_DONE,
        CONFERENCING,
        WRAPUP,
        WRAPUP_DONE,
    }
)
AGENT_MEANING: Final[dict[str, str]] = {
    IDLE: IDLE,
    AVAILABLE: AVAILABLE,
    RINGING: RINGING,
    NOT_RESPONDING: NOT_RESPONDING,
    CONNECTED: CONNECTED,
    ON_HOLD: ON_HOLD,
    HOLD_DONE: CONNECTED,
    CONSULTING: CONSULTING,
    CONSULT_DONE: CONNECTED,
    CONFERENCING: CONFERENCING,
    WRAPUP: WRAPUP,
    WRAPUP_DONE: AVAILABLE,
}
LEG_MEANING: Final[dict[str, str]] = {
    **{state: AGENT_MEANING[state] for state in TASK_STATES},
    NOT_RESPONDING: "done",
    WRAPUP_DONE: "done",
}

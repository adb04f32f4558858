"""The projection states: an agent's and a task's, as frozen msgspec Structs.

Values only; their folds are in agent_state.py and task_lifecycle.py. They are apart because
the folds are compiled by mypyc and these are left to the interpreter (base/compiled_core.py,
INTERPRETED): a msgspec Struct compiled there would lose its class keywords.
"""

from __future__ import annotations

from typing import Any

import msgspec

from wxcc_stream.projections.fold import TimeInState
from wxcc_stream.projections.task_summary import Final

__all__ = ["LOGGED_OUT", "AgentState", "Leg", "TaskLifecycle"]

LOGGED_OUT = "logged-out"


# a frozen msgspec Struct, not a frozen dataclass: built once per folded event, and its
# C constructor and comparison cost a tenth of the dataclass's (same equality and hash)
class AgentState(msgspec.Struct, frozen=True, gc=False):
    """One agent's state after folding its events in contract order."""

    agent_id: str
    org_id: str | None = None
    team_id: Any = None
    logged_in: bool = False
    state: str = LOGGED_OUT
    state_since: int | None = None
    idle_code_id: Any = None
    wrap_up_aux_code_id: Any = None
    task_ids: tuple[str, ...] = ()
    connected_channels: Any = None
    destination: Any = None
    profile_type: Any = None
    session_start: int | None = None
    time_in_state: TimeInState = ()
    last_event_time: int | None = None
    last_event_id: str | None = None
    revision: int = 0


class Leg(msgspec.Struct, frozen=True, gc=False):
    """One agent's part in a task: its state on the task and the time spent per state."""

    state: str | None = None
    since: int | None = None
    time_in_state: TimeInState = ()
    wrap_up_aux_code_id: Any = None


class TaskLifecycle(msgspec.Struct, frozen=True, gc=False):
    """One task's lifecycle after folding its events in contract order."""

    task_id: str
    org_id: str | None = None
    channel_type: Any = None
    direction: Any = None
    outbound_type: Any = None
    origin: Any = None
    destination: Any = None
    queue_id: Any = None
    status: str | None = None
    new_time: int | None = None
    parked_time: int | None = None
    connect_time: int | None = None
    connected_time: int | None = None
    ended_time: int | None = None
    last_connect_time: int | None = None  # internal: the latest task:connect so far
    ring_ms: int | None = None
    hold_count: int = 0
    hold_ms: int = 0
    hold_start: int | None = None  # internal: start of the open hold, if any
    consult_count: int = 0
    conference_count: int = 0
    legs: tuple[tuple[str, Leg], ...] = ()  # sorted by agent id; its keys are agentIds
    terminating_party: Any = None
    reason: Any = None
    captures: tuple[str, ...] = ()
    final: Final = ()  # the authoritative summary's facts (task_summary.py)
    last_event_time: int | None = None
    last_event_id: str | None = None
    revision: int = 0

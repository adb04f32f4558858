"""The simulation's runtime model: agents and tasks as they are at a point in time.

Mutable on purpose (the simulation owns them and changes them as time passes); nothing
outside `generate` ever sees them.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from enum import Enum

from wxcc_stream.devtools.scenario.config import Range, ScenarioConfig
from wxcc_stream.devtools.scenario.directory import AgentProfile, Code

TELEPHONY = "telephony"
CHAT = "chat"


class Mode(Enum):
    """What an agent is doing, as far as routing is concerned."""

    OFF = "off"  # logged out
    READY = "ready"  # available: may be offered tasks (capacity permitting)
    NOT_READY = "not-ready"  # idle with a code; a timer makes it available again
    PENDING = "pending"  # just finished its work; about to report available or idle
    LEAVING = "leaving"  # shift over: finishes its tasks, then logs out
    EXITING = "exiting"  # logging out


@dataclass(slots=True, eq=False)
class Agent:
    """An agent during the simulation."""

    profile: AgentProfile
    index: int
    queues: tuple[str, ...]
    shift_end: int
    relogin_at: int | None
    mode: Mode = Mode.OFF
    epoch: int = 0
    reserved: str | None = None
    ringing: str | None = None
    active: dict[str, str] = field(default_factory=dict)  # task id -> channel
    wrapping: dict[str, None] = field(default_factory=dict)
    ready_since: int = 0
    idle_code: Code | None = None
    reported_in_session: bool = False
    login_pending: bool = False

    @property
    def busy(self) -> bool:
        """Has an offer pending, ringing, or tasks (wrap-up included)."""
        return self.reserved is not None or self.ringing is not None or bool(self.active)


@dataclass(frozen=True, slots=True)
class Sleep:
    """A process command: wait `ms`."""

    ms: int


@dataclass(frozen=True, slots=True)
class Route:
    """A process command: wait in the queue for an agent (None: the customer gave up)."""


ROUTE = Route()
Command = Sleep | Route
Process = Generator[Command, Agent | None, None]
Handling = Generator[Command, Agent | None, bool]  # returns True when transferred


@dataclass(slots=True, eq=False)
class Task:
    """A task during the simulation; `proc` is its process (a generator)."""

    id: str
    channel: str
    direction: str
    outbound_type: str | None
    origin: str
    destination: str
    queue_id: str
    parks: bool
    patience: Range
    proc: Process | None = None
    waiting: bool = False
    wait_epoch: int = 0
    enqueue_seq: int = 0
    connected_once: bool = False
    consulted: bool = False
    transferred: bool = False


def can_take(agent: Agent, channel: str, config: ScenarioConfig) -> bool:
    """May the agent be offered a task of this channel now (mode and capacity)?"""
    if (
        agent.mode is not Mode.READY
        or agent.reserved is not None
        or agent.ringing is not None
        or agent.wrapping
    ):
        return False
    held = list(agent.active.values())
    if not held:
        return True
    if agent.profile.profile_type == "EXCLUSIVE" or len(held) >= config.max_concurrent_tasks:
        return False
    realtime_only = agent.profile.profile_type == "BLENDED_REALTIME"
    if channel == TELEPHONY:
        return TELEPHONY not in held and not (realtime_only and CHAT in held)
    if channel == CHAT:
        return held.count(CHAT) < config.chat_capacity and not (realtime_only and TELEPHONY in held)
    return channel not in held

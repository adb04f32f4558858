"""What a scenario looks like: sizes, mix, probabilities and duration ranges."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from wxcc_stream.devtools.scenario.errors import ScenarioConfigError

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS

# 2024-03-04T08:00:00Z, a Monday morning: a fixed default so the output is reproducible.
DEFAULT_START_MS = 1_709_539_200_000
DEFAULT_ORG_ID = "9dcb8657-ffad-45a1-9d8c-2f66e3b64f08"
DEFAULT_SUBSCRIPTION_ID = "AXXbfkWZ331_GLMMoS3N"

Range = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ChannelMix:
    """Relative weights of the channels of generated tasks (they need not sum to 1)."""

    telephony: float = 0.6
    chat: float = 0.2
    email: float = 0.1
    social: float = 0.1

    def weights(self) -> tuple[tuple[str, float], ...]:
        """(channelType, weight) in a fixed order."""
        return (
            ("telephony", self.telephony),
            ("chat", self.chat),
            ("email", self.email),
            ("social", self.social),
        )


@dataclass(frozen=True, slots=True)
class Timings:
    """Inclusive (low, high) ranges in ms from which durations are drawn uniformly."""

    park_delay: Range = (1, 1_500)  # task:new -> task:parked (0 on a fraction, same ms)
    route_delay: Range = (200, 3_000)  # an agent is chosen -> task:connect (offer)
    ring_telephony: Range = (1_500, 12_000)  # offer -> accepted
    ring_digital: Range = (3_000, 25_000)
    ring_timeout: Range = (15_000, 30_000)  # offer -> not-responding (RONA)
    talk_telephony: Range = (45_000, 600_000)  # connected -> ended, holds included
    talk_chat: Range = (120_000, 1_200_000)
    talk_email: Range = (60_000, 900_000)
    talk_social: Range = (90_000, 900_000)
    hold: Range = (5_000, 120_000)
    consult_offer: Range = (100, 1_500)  # task:consulting -> consulted agent ringing
    consult_ring: Range = (2_000, 8_000)
    consult: Range = (15_000, 180_000)
    conference: Range = (30_000, 300_000)
    wrapup: Range = (5_000, 120_000)
    after_wrapup: Range = (1, 3_000)  # wrapup-done -> available / idle
    login_ready: Range = (1, 120_000)  # login -> available (0 on a fraction, same ms)
    rona_idle: Range = (100, 2_000)  # not-responding -> idle (RONA code)
    rona_recover: Range = (20_000, 180_000)  # idle after RONA -> available
    break_: Range = (300_000, 1_200_000)
    relogin_gap: Range = (300_000, 1_800_000)
    logout_gap: Range = (1, 30_000)  # last idle -> logout (0 on a fraction, same ms)
    capture: Range = (5_000, 120_000)  # task:ended -> capture:available
    close_abandon: Range = (1_000, 60_000)  # last agent gone -> queued tasks end
    patience_telephony: Range = (30_000, 600_000)  # queued customer gives up
    patience_chat: Range = (120_000, 1_200_000)
    patience_social: Range = (600_000, 3_600_000)
    patience_email: Range = (3_600_000, 14_400_000)
    patience_outbound: Range = (1_800_000, 7_200_000)
    delivery_lag: Range = (0, 400)  # createdTime -> comciscotimestamp on v2 events

    def validate(self) -> None:
        """Raise ScenarioConfigError for an empty or negative range."""
        for f in fields(self):
            low, high = getattr(self, f.name)
            if not (0 <= low <= high):
                raise ScenarioConfigError(f"timings.{f.name}", f"bad range ({low}, {high})")


@dataclass(frozen=True, slots=True)
class ScenarioConfig:
    """Everything `generate` needs; the same config always yields the same scenario.

    Probabilities are per task (hold, consult, conference, transfer, capture), per offer
    (RONA), per event (v2, org attribute spelling, capitalised state) or per agent (relogin).
    `outbound_fraction` is the share of telephony tasks that are outbound.
    """

    seed: int = 0
    agents: int = 10
    teams: int = 2
    queues: int = 3
    duration_ms: int = 8 * HOUR_MS
    start_ms: int = DEFAULT_START_MS
    org_id: str = DEFAULT_ORG_ID
    subscription_id: str = DEFAULT_SUBSCRIPTION_ID
    tasks: int | None = None
    tasks_per_agent_hour: float = 4.0  # used when `tasks` is None
    channels: ChannelMix = field(default_factory=ChannelMix)
    outbound_fraction: float = 0.15
    rona_probability: float = 0.05
    hold_probability: float = 0.3
    consult_probability: float = 0.08
    conference_probability: float = 0.04
    # of conferences: the consulted agent reports `conferencing` in the same ms as the one
    # who started it (two agents' legs of one task in one state at one instant)
    shared_conference_probability: float = 0.0
    transfer_probability: float = 0.06
    capture_probability: float = 0.95
    end_on_hold_probability: float = 0.05  # of tasks with a hold: customer hangs up on hold
    break_probability: float = 0.08  # after a task, the agent goes idle for a while
    relogin_probability: float = 0.15  # the agent logs out and in again mid-shift
    v2_fraction: float = 0.3  # events carrying comciscotimestamp
    # agent state changes sent as the v2 `agent:channel_state_change` (0: a v1-only feed)
    channel_state_fraction: float = 0.0
    alt_org_attribute_fraction: float = 0.5  # events spelling it `comciscocorgid`
    capitalised_state_fraction: float = 0.3  # "Idle"/"Available" instead of lower case
    chat_capacity: int = 2
    max_concurrent_tasks: int = 3
    timings: Timings = field(default_factory=Timings)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def source(self) -> str:
        """The CloudEvents `source` of every event."""
        return f"/com/cisco/wxcc/{self.subscription_id}"

    @property
    def end_ms(self) -> int:
        """End of the scheduled window (agents finish their last tasks after it)."""
        return self.start_ms + self.duration_ms

    def task_count(self) -> int:
        """The number of tasks to generate."""
        if self.tasks is not None:
            return self.tasks
        return round(self.agents * self.duration_ms / HOUR_MS * self.tasks_per_agent_hour)

    def validate(self) -> None:
        """Raise ScenarioConfigError naming the first unusable value."""
        for name in ("agents", "teams", "queues", "chat_capacity", "max_concurrent_tasks"):
            if getattr(self, name) < 1:
                raise ScenarioConfigError(name, "must be at least 1")
        if self.duration_ms < MINUTE_MS:
            raise ScenarioConfigError("duration_ms", "must be at least one minute")
        if self.start_ms < 0:
            raise ScenarioConfigError("start_ms", "must not be negative")
        if self.tasks is not None and self.tasks < 0:
            raise ScenarioConfigError("tasks", "must not be negative")
        if self.tasks_per_agent_hour < 0:
            raise ScenarioConfigError("tasks_per_agent_hour", "must not be negative")
        if not self.org_id or not self.subscription_id:
            raise ScenarioConfigError("org_id", "org_id and subscription_id must be non-empty")
        for f in fields(self):
            if f.name.endswith(("_probability", "_fraction")):
                value = getattr(self, f.name)
                if not 0.0 <= value <= 1.0:
                    raise ScenarioConfigError(f.name, f"must be within [0, 1], got {value}")
        weights = [w for _, w in self.channels.weights()]
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ScenarioConfigError("channels", "weights must be >= 0 with a positive sum")
        self.timings.validate()

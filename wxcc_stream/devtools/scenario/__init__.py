"""Scenario generator: seeded, pure contact-center activity as WxCC webhooks, plus truth.

`generate(ScenarioConfig(...))` simulates a day of agents and tasks and returns the
CloudEvents WxCC would send (in event-time order) with the agent-state and
task-lifecycle documents docs/projections.md defines for them, computed from the
simulation's own model. `damage(events, DamageConfig(...))` turns them into an
unreliable delivery schedule; `summarize(events)` counts them. No I/O anywhere.
"""

from __future__ import annotations

from wxcc_stream.devtools.scenario.config import (
    DEFAULT_ORG_ID,
    DEFAULT_START_MS,
    DEFAULT_SUBSCRIPTION_ID,
    HOUR_MS,
    MINUTE_MS,
    ChannelMix,
    ScenarioConfig,
    Timings,
)
from wxcc_stream.devtools.scenario.damage import DamageConfig, Delivery, damage, event_time
from wxcc_stream.devtools.scenario.directory import AgentProfile, Code, Directory, Queue, Team
from wxcc_stream.devtools.scenario.errors import ScenarioConfigError, ScenarioError
from wxcc_stream.devtools.scenario.generate import Scenario, generate
from wxcc_stream.devtools.scenario.summary import Summary, summarize
from wxcc_stream.devtools.scenario.vocabulary import (
    AGENT_RANK,
    EVENT_TYPES,
    TASK_RANK,
    VENDOR_FIELDS,
)

__all__ = [
    "AGENT_RANK",
    "DEFAULT_ORG_ID",
    "DEFAULT_START_MS",
    "DEFAULT_SUBSCRIPTION_ID",
    "EVENT_TYPES",
    "HOUR_MS",
    "MINUTE_MS",
    "TASK_RANK",
    "VENDOR_FIELDS",
    "AgentProfile",
    "ChannelMix",
    "Code",
    "DamageConfig",
    "Delivery",
    "Directory",
    "Queue",
    "Scenario",
    "ScenarioConfig",
    "ScenarioConfigError",
    "ScenarioError",
    "Summary",
    "Team",
    "Timings",
    "damage",
    "event_time",
    "generate",
    "summarize",
]

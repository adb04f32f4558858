"""`generate`: a seeded scenario, as the events WxCC would send plus their ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wxcc_stream.devtools.scenario.config import ScenarioConfig
from wxcc_stream.devtools.scenario.directory import Directory, build_directory
from wxcc_stream.devtools.scenario.simulation import Simulation


@dataclass(frozen=True, slots=True)
class Scenario:
    """A generated day: the events in event-time order and the expected projections.

    `agent_truth` / `task_truth` map agentId / taskId to the agent-state / task-lifecycle
    document docs/projections.md defines for the complete set of `events`. The dicts are
    shared, not copied: treat them as read-only.
    """

    config: ScenarioConfig
    directory: Directory
    events: tuple[dict[str, Any], ...]
    agent_truth: dict[str, dict[str, Any]]
    task_truth: dict[str, dict[str, Any]]


def generate(config: ScenarioConfig) -> Scenario:
    """Simulate the configured day; the same config always gives the same scenario."""
    directory = build_directory(config.seed, config.agents, config.teams, config.queues)
    simulation = Simulation(config, directory)
    simulation.run()
    recorder = simulation.recorder
    return Scenario(
        config=config,
        directory=directory,
        events=recorder.events(),
        agent_truth={key: recorder.agents[key].document() for key in sorted(recorder.agents)},
        task_truth={key: recorder.tasks[key].document() for key in sorted(recorder.tasks)},
    )

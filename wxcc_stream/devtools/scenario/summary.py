"""A short account of a set of events, for the CLI to print."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wxcc_stream.devtools.scenario.damage import event_time


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts of events by type, of agents and tasks, and the time span covered."""

    events: int
    by_type: tuple[tuple[str, int], ...]
    agents: int
    tasks: int
    tasks_by_channel: tuple[tuple[str, int], ...]
    first_time: int | None
    last_time: int | None

    def lines(self) -> list[str]:
        """Human-readable lines."""
        span = "-"
        if self.first_time is not None and self.last_time is not None:
            hours = (self.last_time - self.first_time) / 3_600_000
            span = f"{self.first_time}..{self.last_time} ({hours:.2f} h)"
        out = [
            f"events: {self.events}",
            f"agents: {self.agents}",
            f"tasks: {self.tasks}"
            + (
                " (" + ", ".join(f"{ch} {n}" for ch, n in self.tasks_by_channel) + ")"
                if self.tasks_by_channel
                else ""
            ),
            f"time span: {span}",
        ]
        out.extend(f"  {event_type}: {n}" for event_type, n in self.by_type)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


def summarize(events: Iterable[Mapping[str, Any]]) -> Summary:
    """Count `events` (any order; duplicates are counted as delivered)."""
    by_type: Counter[str] = Counter()
    agents: set[str] = set()
    tasks: dict[str, str | None] = {}
    times: list[int] = []
    total = 0
    for event in events:
        total += 1
        event_type = str(event.get("type"))
        by_type[event_type] += 1
        data = event.get("data")
        data = data if isinstance(data, Mapping) else {}
        times.append(event_time(event))
        if event_type.startswith("agent:") and isinstance(data.get("agentId"), str):
            agents.add(data["agentId"])
        if event_type.startswith(("task:", "capture:")) and isinstance(data.get("taskId"), str):
            channel = data.get("channelType")
            if tasks.get(data["taskId"]) is None:
                tasks[data["taskId"]] = channel if isinstance(channel, str) else None
    channels = Counter(channel or "unknown" for channel in tasks.values())
    return Summary(
        events=total,
        by_type=tuple(sorted(by_type.items())),
        agents=len(agents),
        tasks=len(tasks),
        tasks_by_channel=tuple(sorted(channels.items())),
        first_time=min(times) if times else None,
        last_time=max(times) if times else None,
    )

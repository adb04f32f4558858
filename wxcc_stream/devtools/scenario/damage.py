"""Damage a delivery the way an HTTP webhook sender does: reorder, repeat, lose, delay."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wxcc_stream.devtools.scenario.errors import ScenarioConfigError


@dataclass(frozen=True, slots=True)
class DamageConfig:
    """How to damage a delivery; the default damages nothing.

    Fractions are of the whole input and are applied exactly (rounded to whole events):
    `drop_fraction` of the events are never delivered; of the others, `late_fraction`
    (of the input) arrive `late_delay_ms` after their time, and `duplicate_fraction`
    (of the input) are delivered a second time, 1..`duplicate_delay_ms` after the first.
    Every delivered event arrives at its createdTime plus a uniform jitter in
    [0, `shuffle_window_ms`), which reorders events closer together than the window.
    """

    seed: int = 0
    shuffle_window_ms: int = 0
    duplicate_fraction: float = 0.0
    duplicate_delay_ms: int = 2_000
    drop_fraction: float = 0.0
    late_fraction: float = 0.0
    late_delay_ms: int = 600_000

    def __post_init__(self) -> None:
        for name in ("duplicate_fraction", "drop_fraction", "late_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ScenarioConfigError(name, f"must be within [0, 1], got {value}")
        if self.drop_fraction + self.late_fraction > 1.0:
            raise ScenarioConfigError("late_fraction", "drop_fraction + late_fraction > 1")
        if self.drop_fraction + self.duplicate_fraction > 1.0:
            raise ScenarioConfigError(
                "duplicate_fraction", "drop_fraction + duplicate_fraction > 1"
            )
        for name in ("shuffle_window_ms", "late_delay_ms"):
            if getattr(self, name) < 0:
                raise ScenarioConfigError(name, "must not be negative")
        if self.duplicate_delay_ms < 1:
            raise ScenarioConfigError("duplicate_delay_ms", "must be at least 1")


@dataclass(frozen=True, slots=True)
class Delivery:
    """An arrival schedule: (arrival time ms, event), sorted by arrival.

    Duplicates are the same event object delivered twice. `dropped` lists the events
    never delivered (input order), `late` and `duplicated` the ids of the events delayed
    past the grace and delivered twice.
    """

    deliveries: tuple[tuple[int, dict[str, Any]], ...]
    dropped: tuple[dict[str, Any], ...]
    late: tuple[str, ...]
    duplicated: tuple[str, ...]


def event_time(event: Mapping[str, Any]) -> int:
    """An event's time: data.createdTime, else its comciscotimestamp, else 0."""
    data = event.get("data")
    created = data.get("createdTime") if isinstance(data, Mapping) else None
    if isinstance(created, int):
        return created
    stamp = event.get("comciscotimestamp")
    if isinstance(stamp, int) or (isinstance(stamp, str) and stamp.isdigit()):
        return int(stamp)
    return 0


def damage(events: Sequence[dict[str, Any]], config: DamageConfig | None = None) -> Delivery:
    """The arrival schedule of `events` under `config` (pure; seeded by `config.seed`)."""
    config = config or DamageConfig()
    rng = random.Random(f"wxcc-damage:{config.seed}")
    count = len(events)
    indices = range(count)
    dropped = set(rng.sample(indices, round(count * config.drop_fraction)))
    kept = [i for i in indices if i not in dropped]
    late = set(rng.sample(kept, min(len(kept), round(count * config.late_fraction))))
    twice = sorted(rng.sample(kept, min(len(kept), round(count * config.duplicate_fraction))))

    arrival: dict[int, int] = {}
    schedule: list[tuple[int, int, int]] = []  # (arrival, input index, copy)
    for i in kept:
        at = event_time(events[i])
        if config.shuffle_window_ms > 0:
            at += rng.randrange(config.shuffle_window_ms)
        if i in late:
            at += config.late_delay_ms
        arrival[i] = at
        schedule.append((at, i, 0))
    for i in twice:
        schedule.append((arrival[i] + rng.randint(1, config.duplicate_delay_ms), i, 1))
    schedule.sort()
    return Delivery(
        deliveries=tuple((at, events[i]) for at, i, _ in schedule),
        dropped=tuple(events[i] for i in indices if i in dropped),
        late=tuple(events[i]["id"] for i in kept if i in late),
        duplicated=tuple(events[i]["id"] for i in twice),
    )

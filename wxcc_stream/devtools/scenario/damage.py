"""Damage a delivery the way an HTTP webhook sender does: reorder, repeat, lose, delay;
and the way a second source does: the same event again under a new id (a twin), or the
same id with another payload (a conflict)."""

from __future__ import annotations

import copy
import random
import uuid
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

    `twin_fraction` of the input are also sent again as what a second source (another
    subscription, a reconciliation) would send: a new id, `source` + `twin_source_suffix`,
    the same content, arriving up to `duplicate_delay_ms` before or after the first. The
    suffix makes the twin's (source, id) the larger, so the contract keeps the original
    and the ground truth is unchanged. `conflict_fraction` of the input are also sent with
    the same (source, id) but a createdTime 1 ms later, after the original: the contract
    keeps the first and reports the other as a conflict.
    """

    seed: int = 0
    shuffle_window_ms: int = 0
    duplicate_fraction: float = 0.0
    duplicate_delay_ms: int = 2_000
    drop_fraction: float = 0.0
    late_fraction: float = 0.0
    late_delay_ms: int = 600_000
    twin_fraction: float = 0.0
    twin_source_suffix: str = "-resent"
    conflict_fraction: float = 0.0

    def __post_init__(self) -> None:
        fractions = ("duplicate_fraction", "drop_fraction", "late_fraction", "twin_fraction",
                     "conflict_fraction")  # fmt: skip
        for name in fractions:
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
        if self.drop_fraction + self.twin_fraction + self.conflict_fraction > 1.0:
            raise ScenarioConfigError(
                "conflict_fraction", "drop_fraction + twin_fraction + conflict_fraction > 1"
            )
        if not self.twin_source_suffix:
            raise ScenarioConfigError("twin_source_suffix", "must be non-empty")


@dataclass(frozen=True, slots=True)
class Delivery:
    """An arrival schedule: (arrival time ms, event), sorted by arrival.

    Duplicates are the same event object delivered twice. `dropped` lists the events
    never delivered (input order), `late` and `duplicated` the ids of the events delayed
    past the grace and delivered twice, `twinned` and `conflicted` the ids of the events
    also sent as a twin or as a conflicting copy.
    """

    deliveries: tuple[tuple[int, dict[str, Any]], ...]
    dropped: tuple[dict[str, Any], ...]
    late: tuple[str, ...]
    duplicated: tuple[str, ...]
    twinned: tuple[str, ...] = ()
    conflicted: tuple[str, ...] = ()


def twin_of(event: Mapping[str, Any], suffix: str, rng: random.Random) -> dict[str, Any]:
    """The same event as a second source sends it: a new id, another (larger) source."""
    twin = copy.deepcopy(dict(event))
    twin["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    twin["source"] = f"{event['source']}{suffix}"
    return twin


def conflicting_copy(event: Mapping[str, Any]) -> dict[str, Any]:
    """Same (source, id), another payload: createdTime 1 ms later."""
    other = copy.deepcopy(dict(event))
    other["data"]["createdTime"] = event_time(event) + 1
    return other


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
    # twins and conflicting copies only of events that carry a createdTime (the contract's
    # semantic identity needs it), and never both for one event
    timed = [i for i in kept if _has_created_time(events[i])]
    extra = rng.sample(timed, min(len(timed), round(count * config.twin_fraction)
                                  + round(count * config.conflict_fraction)))  # fmt: skip
    twins = sorted(extra[: round(count * config.twin_fraction)])
    conflicts = sorted(extra[len(twins) :])

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
    copies: dict[tuple[int, int], dict[str, Any]] = {}
    for i in twins:
        copies[i, 2] = twin_of(events[i], config.twin_source_suffix, rng)
        offset = rng.randint(-config.duplicate_delay_ms, config.duplicate_delay_ms)
        schedule.append((max(0, arrival[i] + offset), i, 2))
    for i in conflicts:
        copies[i, 3] = conflicting_copy(events[i])
        schedule.append((arrival[i] + rng.randint(1, config.duplicate_delay_ms), i, 3))
    schedule.sort()
    return Delivery(
        deliveries=tuple((at, copies.get((i, n), events[i])) for at, i, n in schedule),
        dropped=tuple(events[i] for i in indices if i in dropped),
        late=tuple(events[i]["id"] for i in kept if i in late),
        duplicated=tuple(events[i]["id"] for i in twice),
        twinned=tuple(events[i]["id"] for i in twins),
        conflicted=tuple(events[i]["id"] for i in conflicts),
    )


def _has_created_time(event: Mapping[str, Any]) -> bool:
    data = event.get("data")
    return isinstance(data, Mapping) and isinstance(data.get("createdTime"), int)

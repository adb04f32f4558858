"""The generations topic, pure: what its records say and what `promote` / `drop` decide
(its keys are in `schemas.generations`, which every consumer of the projections shares).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from wxcc_stream.processors.replay.plan import Range, decode_range
from wxcc_stream.schemas.generations import (
    PROJECTIONS,
    current_key,
    done_key,
    dropped_key,
    range_key,
    seeded_key,
)

__all__ = [
    "PROJECTIONS",
    "Decision",
    "GenerationError",
    "Generations",
    "LiveGeneration",
    "current_key",
    "decide_drop",
    "decide_promote",
    "done_key",
    "dropped_key",
    "live_generation",
    "range_key",
    "seeded_key",
]


class GenerationError(ValueError):
    """A promote or a drop that must not happen (the message says why)."""


@dataclass(slots=True)
class Generations:
    """Everything the generations topic says, folded from its records in order."""

    current: dict[str, int] = field(default_factory=dict)
    ranges: dict[int, Range] = field(default_factory=dict)
    done: dict[int, set[int]] = field(default_factory=dict)
    dropped: set[int] = field(default_factory=set)
    seeded: set[int] = field(default_factory=set)

    @classmethod
    def fold(cls, records: Iterable[tuple[bytes | None, bytes | None]]) -> Generations:
        """Read the topic's (key, value) records in offset order. The first range stored
        for a generation wins (two replay processes may both store one at the start)."""
        g = cls()
        for raw_key, value in records:
            if raw_key is None:
                continue
            parts = raw_key.decode(errors="replace").split("/")
            if parts[0] == "current" and len(parts) == 2:
                if value is None:
                    g.current.pop(parts[1], None)
                else:
                    g.current[parts[1]] = int(value)
            elif parts[0] == "replay" and len(parts) >= 3 and value is not None:
                number = int(parts[1].removeprefix("g"))
                if parts[2] == "range":
                    g.ranges.setdefault(number, decode_range(value))
                elif parts[2] == "done" and len(parts) == 4:
                    g.done.setdefault(number, set()).add(int(parts[3]))
                elif parts[2] == "seeded":
                    g.seeded.add(number)
            elif parts[0] == "dropped" and value is not None:
                g.dropped.add(int(parts[1].removeprefix("g")))
        return g

    def current_of(self, projection: str) -> int:
        return self.current.get(projection, 1)

    def complete(self, generation: int) -> bool:
        """Every entity partition of replay `generation` is done."""
        span = self.ranges.get(generation)
        return span is not None and len(self.done.get(generation, ())) == span.partitions

    def known(self) -> list[int]:
        """Every generation that exists or existed: 1, each replay, each current one."""
        return sorted({1, *self.ranges, *self.current.values(), *self.dropped})

    def unfinished(self) -> list[int]:
        """Replays started (a range stored) and neither complete nor dropped."""
        return sorted(n for n in self.ranges if not self.complete(n) and n not in self.dropped)

    def to_replay(self) -> int:
        """The generation a replay builds when none is named: the oldest unfinished one
        (a rerun after a crash continues it), else the next free number."""
        unfinished = self.unfinished()
        return unfinished[0] if unfinished else self.next_free()

    def next_free(self) -> int:
        """The number a new replay takes: one past every generation ever used."""
        return max(self.known()) + 1


@dataclass(frozen=True, slots=True)
class LiveGeneration:
    """The generation a live worker writes, and its entity partition count (None for
    generation 1: the settings' `WXCC_TOPIC_PARTITIONS`)."""

    number: int
    partitions: int | None = None


def live_generation(g: Generations) -> LiveGeneration:
    """The generation the live worker follows: the one current for both projections when
    it is a complete replay; generation 1 otherwise. One worker folds both projections
    from one set of tables, so a promote of one projection alone leaves it on the live
    topics (and that projection's promoted generation stays a snapshot)."""
    numbers = {g.current_of(p) for p in PROJECTIONS}
    if len(numbers) == 1:
        number = numbers.pop()
        if number != 1 and g.complete(number) and number not in g.dropped:
            return LiveGeneration(number, g.ranges[number].partitions)
    return LiveGeneration(1)


@dataclass(frozen=True, slots=True)
class Decision:
    """Records to write to the generations topic (a None value deletes the key)."""

    records: tuple[tuple[bytes, bytes | None], ...]
    topics_to_delete: tuple[int, ...] = ()


def decide_promote(g: Generations, generation: int, projections: Iterable[str]) -> Decision:
    """Make `generation` current for the projections: it must be complete and not dropped
    (generation 1, the live topics, is always complete)."""
    if generation in g.dropped:
        raise GenerationError(f"generation {generation} was dropped")
    if generation != 1 and not g.complete(generation):
        raise GenerationError(
            f"generation {generation} is not a complete replay: wait for `wxcc-stream replay` "
            "to finish (or rerun it)"
        )
    return Decision(tuple((current_key(p), b"%d" % generation) for p in projections))


def decide_drop(g: Generations, generation: int) -> Decision:
    """Forget a replayed generation and delete its topics; never a current one, never 1."""
    if generation == 1:
        raise GenerationError("generation 1 holds the live topics: it is never dropped")
    in_use = [p for p in PROJECTIONS if g.current_of(p) == generation]
    if in_use:
        raise GenerationError(
            f"generation {generation} is current for {', '.join(in_use)}: promote another first"
        )
    if generation not in g.ranges:
        raise GenerationError(f"no replay into generation {generation} is known")
    records: list[tuple[bytes, bytes | None]] = [(dropped_key(generation), b"1")]
    records.append((range_key(generation), None))
    records.append((seeded_key(generation), None))
    span = g.ranges[generation]
    records += [(done_key(generation, q), None) for q in range(span.partitions)]
    return Decision(tuple(records), topics_to_delete=(generation,))

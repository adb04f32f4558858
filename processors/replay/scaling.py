"""`wxcc-stream topics scale`, pure: what growing to N partitions means for the raw topic
and which generation is rebuilt with N partitions (docs/replay.md, "Scaling partitions")."""

from __future__ import annotations

from dataclasses import dataclass

from wxcc_stream.processors.replay.generations import GenerationError, Generations

__all__ = ["ScalePlan", "plan_scale"]


@dataclass(frozen=True, slots=True)
class ScalePlan:
    """Grow the raw topic from `raw_before` to `partitions`, then replay into `generation`
    (its per-entity topics get the raw topic's count) and promote it."""

    raw_before: int
    partitions: int
    generation: int

    @property
    def grows(self) -> bool:
        return self.partitions > self.raw_before


def plan_scale(
    g: Generations, raw_partitions: int, partitions: int, generation: int | None = None
) -> ScalePlan:
    """The plan, or a `GenerationError` saying why not.

    Kafka only adds partitions, so N below the raw topic's count is refused. Without a
    generation, an unfinished replay over N partitions is continued (a rerun after a
    crash), else the next free number is taken.
    """
    if partitions < 1:
        raise GenerationError(f"--partitions {partitions}: at least 1")
    if partitions < raw_partitions:
        raise GenerationError(
            f"the raw topic has {raw_partitions} partitions and Kafka cannot remove any: "
            f"scale to {raw_partitions} or more"
        )
    if generation is None:
        again = [n for n in g.unfinished() if g.ranges[n].partitions == partitions]
        generation = again[0] if again else g.next_free()
    if generation < 2:
        raise GenerationError("generation 1 is the live topics: scaling builds 2 or more")
    if generation in g.dropped:
        raise GenerationError(f"generation {generation} was dropped (numbers are not reused)")
    span = g.ranges.get(generation)
    if span is not None and span.partitions != partitions:
        raise GenerationError(
            f"generation {generation} is a replay over {span.partitions} partitions, "
            f"not {partitions}"
        )
    return ScalePlan(raw_partitions, partitions, generation)

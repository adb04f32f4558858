"""What one replay is asked to do, and what it reports (values, no Kafka)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wxcc_stream.base.settings import Settings
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.replay.state import Tally
from wxcc_stream.schemas.event import EntityKind

__all__ = ["Progress", "ReplayJob", "Summary", "generation_topics"]


@dataclass(frozen=True, slots=True)
class ReplayJob:
    """A replay of the raw topic into generation `generation` (see docs/replay.md)."""

    bootstrap: str
    raw: str
    hops: str
    generations: str
    generation: int
    projections: Mapping[EntityKind, str]
    ordered: Mapping[EntityKind, str] | None  # None: the ordered topics are not rebuilt
    group: str
    policy: Policy
    from_ms: int | None = None
    to_ms: int | None = None
    batch_max: int = 5000
    cache_entries: int = 50_000
    replicas: int = 1
    topic_configs: Mapping[str, str] | None = None
    # the changelogs of generation N's worker tables, per kind: a seeding replay writes its
    # final table values there instead of flushing (None: it does not seed)
    seed: Mapping[EntityKind, str] | None = None


def generation_topics(
    settings: Settings, generation: int
) -> tuple[dict[EntityKind, str], dict[EntityKind, str]]:
    """(projection topics, ordered topics) of a generation, per kind."""
    t = settings.topic
    projections = {
        EntityKind.AGENT: t.in_generation(t.agent_state, generation),
        EntityKind.TASK: t.in_generation(t.task_lifecycle, generation),
    }
    ordered = {
        EntityKind.AGENT: t.in_generation(t.agent_events_ordered, generation),
        EntityKind.TASK: t.in_generation(t.task_events_ordered, generation),
    }
    return projections, ordered


class Progress:
    """Told how far the replay is (the command draws it); does nothing by default."""

    def started(self, total: int) -> None:
        """`total` raw records to read in this process's partitions (grows on a rebalance)."""

    def advanced(self, read: int, tally: Tally) -> None:
        """`read` raw records read so far."""


@dataclass(frozen=True, slots=True)
class Summary:
    """What one replay process did."""

    generation: int
    tally: Tally
    seconds: float
    partitions: tuple[int, ...]  # the entity partitions this process finished
    already_complete: bool = False

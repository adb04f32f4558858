"""What one step of a per-entity log reports to the shell: the events to publish and why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import msgspec

from wxcc_stream.schemas.event import EntityKind, Event


class DuplicateReason(StrEnum):
    """Why an event was not folded (again)."""

    SAME_ID = "same-id"
    """Its (source, id) was already seen with the same payload."""
    SEMANTIC = "semantic"
    """A semantically equal event with a smaller (source, id) is kept."""
    SUPERSEDED = "superseded"
    """It was kept until a semantically equal event with a smaller (source, id) arrived."""


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An event dropped as a duplicate, with the event kept in its place."""

    event: Event
    kept: Event
    reason: DuplicateReason


@dataclass(frozen=True, slots=True)
class Conflict:
    """Same (source, id), different payload: the first version is kept, both are reported."""

    kept: Event
    rejected: Event


class BeyondReason(StrEnum):
    """Why an event could not be placed in the retained history."""

    HORIZON = "horizon"
    """More than the horizon behind the entity's watermark: that history was pruned."""
    COMPACTED = "compacted"
    """The entity had ended (or logged out) and was compacted to its final projection."""
    SET_ASIDE = "set-aside"
    """Behind the released events, and the policy sets late events aside (no refold)."""


_WHY = {
    BeyondReason.HORIZON: "its history was pruned (older than watermark - horizon)",
    BeyondReason.COMPACTED: "the entity ended or logged out and only its final projection is kept",
    BeyondReason.SET_ASIDE: "it sorts before released events and late events are set aside",
}


@dataclass(frozen=True, slots=True)
class BeyondHorizon:
    """An event older than the retained history: neither deduplicated nor folded, reported."""

    event: Event
    kind: EntityKind
    entity_id: str
    watermark: int
    floor: int
    reason: BeyondReason

    @property
    def behind_ms(self) -> int:
        """How far the event's createdTime is behind the entity's watermark."""
        return self.watermark - self.event.created_time

    def describe(self) -> str:
        """A one-line explanation for the late topic and the logs."""
        where = (
            f"before the newest released event (at {self.floor})"
            if self.reason is BeyondReason.SET_ASIDE
            else f"before the retained history (from {self.floor})"
        )
        return (
            f"{self.kind.value} {self.entity_id}: {self.event.type} {self.event.ce_id} at "
            f"{self.event.created_time} is {self.behind_ms} ms behind the watermark "
            f"{self.watermark}, {where}; {_WHY[self.reason]}"
        )


class Outcome(msgspec.Struct, frozen=True, gc=False):  # one per step: a C constructor
    """What a step did, in arrival order within each list.

    - `released`: events folded in order, sorted by the contract order; each sorts after every
      event released before it for this entity (publish to the ordered topic).
    - `late`: events folded behind already-released ones; the projection was recomputed from
      the retained history (publish flagged late, count).
    - `duplicates`, `conflicts`, `beyond_horizon`: not folded, reported (count / dead-letter /
      late topic).
    - `changed`: the projection state differs from before the step (publish `projection(log)`).
    - `recomputed`: the state was rebuilt from history (a late event or a superseded one).
    - `compacted`: an ended task or logged-out agent was reduced to its final projection.
    """

    released: tuple[Event, ...] = ()
    late: tuple[Event, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    beyond_horizon: tuple[BeyondHorizon, ...] = ()
    changed: bool = False
    recomputed: bool = False
    compacted: bool = False

    def then(self, later: Outcome) -> Outcome:
        """The outcome of this step followed by `later` (lists concatenated, flags or-ed)."""
        return Outcome(
            released=self.released + later.released,
            late=self.late + later.late,
            duplicates=self.duplicates + later.duplicates,
            conflicts=self.conflicts + later.conflicts,
            beyond_horizon=self.beyond_horizon + later.beyond_horizon,
            changed=self.changed or later.changed,
            recomputed=self.recomputed or later.recomputed,
            compacted=self.compacted or later.compacted,
        )


NOTHING = Outcome()
"""The outcome of a step that did nothing."""

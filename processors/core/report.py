"""What a step's outcome publishes, by role, and the counts behind the metrics."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from wxcc_stream.processors.core.log import EntityLog, held_count, projection_bytes
from wxcc_stream.processors.core.outcome import Outcome
from wxcc_stream.processors.core.publication import Publication, Role
from wxcc_stream.projections.event_order import TIEBREAK
from wxcc_stream.schemas.deadletter import deadletter_document
from wxcc_stream.schemas.event import EntityKind, Event

__all__ = ["Publication", "Role", "Stats", "bad_record", "report"]


@dataclass(slots=True)
class Stats:
    """Counts of one batch for the metrics."""

    events_in: int = 0
    events_out: int = 0
    duplicates: int = 0
    late: int = 0
    conflicts: int = 0
    beyond_horizon: int = 0
    unknown_types: int = 0
    projections: int = 0
    compacted: int = 0
    deadlettered: int = 0
    buffer_delta: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    seen_delta: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    entities_delta: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    # ingress receive times of the events whose projection this batch publishes
    received_at: list[int] = field(default_factory=list)


def _ordered_value(event: Event, late: bool) -> bytes:
    doc = event.to_dict()
    doc["late"] = late
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def _event_headers(event: Event, late: bool) -> tuple[tuple[str, bytes], ...]:
    return (
        ("ce_id", event.ce_id.encode()),
        ("ce_type", event.type.encode()),
        ("ce_source", event.ce_source.encode()),
        ("late", b"true" if late else b"false"),
    )


def report(
    kind: EntityKind,
    entity_id: str,
    before: EntityLog,
    after: EntityLog,
    outcome: Outcome,
    partition: int,
    publications: list[Publication],
    stats: Stats,
    *,
    ordered: bool = True,
) -> None:
    """Add what one entity's step publishes to `publications` and count it in `stats`
    (the ordered events only with `ordered`)."""
    key = entity_id.encode()
    _folded(kind, key, after, outcome, publications, stats, ordered)
    _refused(kind, entity_id, outcome, publications, stats)
    if outcome.compacted:
        stats.compacted += 1
    stats.buffer_delta[partition] += len(after.buffer) - len(before.buffer)
    stats.seen_delta[partition] += held_count(after) - held_count(before)


def _folded(
    kind: EntityKind,
    key: bytes,
    after: EntityLog,
    outcome: Outcome,
    publications: list[Publication],
    stats: Stats,
    ordered: bool,
) -> None:
    """The ordered events (released, then late) and the projection when it changed."""
    known = TIEBREAK[kind]
    for event in outcome.released if ordered else ():
        publications.append(
            Publication(
                Role.ORDERED, key, _ordered_value(event, False), _event_headers(event, False)
            )
        )
    for event in outcome.late if ordered else ():
        publications.append(
            Publication(Role.ORDERED, key, _ordered_value(event, True), _event_headers(event, True))
        )
    folded = (*outcome.released, *outcome.late)
    stats.events_out += len(folded)
    stats.late += len(outcome.late)
    stats.unknown_types += sum(1 for e in folded if e.type not in known)
    stats.duplicates += len(outcome.duplicates)
    if outcome.changed:
        publications.append(Publication(Role.PROJECTION, key, projection_bytes(after)))
        stats.projections += 1
        stats.received_at.extend(e.received_at for e in folded if e.received_at is not None)


def _refused(
    kind: EntityKind,
    entity_id: str,
    outcome: Outcome,
    publications: list[Publication],
    stats: Stats,
) -> None:
    """Conflicts to the dead letters, events beyond the retained history to the late topic."""
    key = entity_id.encode()
    for conflict in outcome.conflicts:
        letter = deadletter_document(
            "conflict",
            "same (source, id) with a different payload: the first version is kept",
            {
                "stream": kind.value,
                "entityId": entity_id,
                "kept": conflict.kept.to_dict(),
                "rejected": conflict.rejected.to_dict(),
            },
        )
        publications.append(Publication(Role.DEADLETTER, None, letter))
        stats.conflicts += 1
    for beyond in outcome.beyond_horizon:
        late_doc: dict[str, Any] = {
            "stream": kind.value,
            "entityId": entity_id,
            "reason": beyond.reason.value,
            "behindMs": beyond.behind_ms,
            "watermark": beyond.watermark,
            "floor": beyond.floor,
            "why": beyond.describe(),
            "event": beyond.event.to_dict(),
        }
        publications.append(
            Publication(Role.LATE, key, orjson.dumps(late_doc, option=orjson.OPT_SORT_KEYS))
        )
        stats.beyond_horizon += 1


def bad_record(
    kind: EntityKind, partition: int, offset: int, key: bytes | None, value: bytes, exc: Exception
) -> Publication:
    """The dead letter of a stream record whose events do not decode."""
    fields = {
        "stream": kind.value,
        "source": {"partition": partition, "offset": offset},
        "key": key.decode(errors="replace") if key else None,
        "body": value.decode(errors="replace"),
    }
    letter = deadletter_document("bad_stream_record", f"{type(exc).__name__}: {exc}", fields)
    return Publication(Role.DEADLETTER, None, letter)

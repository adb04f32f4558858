"""The change log: a client resumes exactly where it stopped, on any replica."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.api_docs import agent_doc, raw, task_doc
from wxcc_stream.api.changes import (
    Change,
    ChangeLog,
    encode_position,
    parse_position,
)
from wxcc_stream.api.entries import Kind
from wxcc_stream.api.view import View

PARTITIONS = {Kind.AGENT: 2, Kind.TASK: 3}
Record = tuple[Kind, int, int, str, bytes]  # kind, partition, offset, key, value


def _partition_logs(updates: list[tuple[bool, int, int]]) -> dict[tuple[Kind, int], list[Record]]:
    """Per partition, its records in offset order (a key always in the same partition)."""
    logs: dict[tuple[Kind, int], list[Record]] = {}
    revisions: dict[str, int] = {}
    for is_agent, number, revision_step in updates:
        kind = Kind.AGENT if is_agent else Kind.TASK
        key = f"{kind.value}{number}"
        partition = number % PARTITIONS[kind]
        revisions[key] = max(1, revisions.get(key, 0) + revision_step)  # may go down: stale
        doc = (agent_doc(key, revision=revisions[key]) if is_agent
               else task_doc(key, revision=revisions[key]))  # fmt: skip
        log = logs.setdefault((kind, partition), [])
        log.append((kind, partition, len(log), key, raw(doc)))
    return logs


def _replica(logs: dict[tuple[Kind, int], list[Record]], seed: int, capacity: int) -> list[Change]:
    """Read the partitions interleaved in a random order (each in offset order)."""
    rng = random.Random(seed)
    cursors = {p: 0 for p in logs}
    view, log = View(), ChangeLog(capacity, PARTITIONS)
    changes = []
    while any(cursors[p] < len(records) for p, records in logs.items()):
        p = rng.choice([p for p, records in logs.items() if cursors[p] < len(records)])
        kind, partition, offset, key, value = logs[p][cursors[p]]
        cursors[p] += 1
        change = log.read(kind, partition, offset, view.apply(kind, key, value))
        if change is not None:
            changes.append(change)
    _replica.last_log = log  # type: ignore[attr-defined]
    return changes


def _identity(change: Change) -> tuple[Kind, int, int]:
    return change.kind, change.partition, change.offset


@given(
    updates=st.lists(
        st.tuples(st.booleans(), st.integers(0, 6), st.integers(-1, 2)), min_size=1, max_size=60
    ),
    seeds=st.tuples(st.integers(0, 99), st.integers(0, 99)),
    cut=st.floats(0, 1),
)
def test_resume_on_another_replica_sends_exactly_what_was_missed(updates, seeds, cut) -> None:  # type: ignore[no-untyped-def]
    logs = _partition_logs(updates)
    on_a = _replica(logs, seeds[0], capacity=1000)
    on_b = _replica(logs, seeds[1], capacity=1000)
    log_b: ChangeLog = _replica.last_log  # type: ignore[attr-defined]
    assert {_identity(c) for c in on_a} == {_identity(c) for c in on_b}
    if not on_a:
        return
    k = int(cut * (len(on_a) - 1))
    event_id = encode_position(on_a[k].position)  # the id the client last received
    position = parse_position(event_id, PARTITIONS)
    assert position is not None
    resumed = log_b.resume(position)
    assert resumed is not None
    seen = {_identity(c) for c in on_a[: k + 1]}
    assert [_identity(c) for c in resumed] == [
        _identity(c) for c in on_b if _identity(c) not in seen
    ]


def test_a_log_that_no_longer_reaches_back_asks_for_a_reload() -> None:
    logs = _partition_logs([(True, 0, 1)] * 10)
    changes = _replica(logs, 0, capacity=3)
    log: ChangeLog = _replica.last_log  # type: ignore[attr-defined]
    assert len(changes) == 10
    # capacity 3: the log holds changes[7:]
    assert log.resume(changes[6].position) == changes[7:]
    assert log.resume(changes[5].position) is None  # changes[6] was dropped
    assert log.after(changes[-1].seq) == []
    assert log.after(changes[6].seq) == changes[7:]
    assert log.after(changes[5].seq) is None  # a subscriber that fell behind


def test_positions_of_another_shape_are_refused() -> None:
    assert parse_position("1.2_3.4.5", PARTITIONS) == ((1, 2), (3, 4, 5))
    for bad in ("", "1.2", "1.2_3.4", "1.x_3.4.5", "1.2_3.4.-5", "1.2_3.4.5_6"):
        assert parse_position(bad, PARTITIONS) is None

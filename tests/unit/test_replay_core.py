"""The replay's pure parts: its clock, completion, publishing rule, the generations topic's
decisions, and the replay state over a damaged day (hops passed by hand, no broker)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import orjson
import pytest

from tests.e2e.harness import raw_headers
from wxcc_stream.base.partitioning import KeyPartitioner
from wxcc_stream.devtools.scenario import HOUR_MS, DamageConfig, ScenarioConfig, damage, generate
from wxcc_stream.processors.core.batch import Record, process_batch
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.report import Role
from wxcc_stream.processors.core.routing import target_raw
from wxcc_stream.processors.replay.generations import (
    GenerationError,
    Generations,
    LiveGeneration,
    current_key,
    decide_drop,
    decide_promote,
    done_key,
    live_generation,
    range_key,
    seeded_key,
)
from wxcc_stream.processors.replay.hops import decode_hop, encode_hop
from wxcc_stream.processors.replay.plan import (
    Completion,
    Published,
    Range,
    ReplayClock,
    decode_range,
    encode_range,
)
from wxcc_stream.processors.replay.state import Output, RawIn, Replayer
from wxcc_stream.schemas.cloudevent import parse_event
from wxcc_stream.schemas.event import EntityKind, Event
from wxcc_stream.schemas.raw_record import header_map

PARTITIONS = 4
POLICY = Policy(grace_ms=3_000, flush_timeout_ms=1_000)


def test_the_clock_never_goes_back_and_its_final_time_releases_everything() -> None:
    clock = ReplayClock()
    assert clock.observe([5, None, 3]) == 5
    assert clock.observe([4]) == 5
    assert clock.final_ms(POLICY) == 5 + POLICY.flush_timeout_ms


def test_a_partition_is_complete_with_its_raw_end_and_every_marker() -> None:
    c = Completion(partitions=2)
    c.raw_done.add(0)
    c.marker(0, 0)
    assert not c.complete(0)
    c.marker(0, 1)
    assert c.complete(0)
    assert not c.complete(1)
    c.finished.add(0)
    assert not c.complete(0)  # flushed once only
    c.forget(0)
    assert not c.complete(0)
    assert 0 not in c.finished


def test_published_sends_newer_revisions_and_changed_content_only() -> None:
    p = Published()
    k = EntityKind.TASK
    assert p.worth_sending(k, b"t", 3, b"a")
    assert not p.worth_sending(k, b"t", 3, b"a")  # the same again
    assert not p.worth_sending(k, b"t", 2, b"older")  # a rebuild's early revision
    assert p.worth_sending(k, b"t", 3, b"twin replaced")
    p.saw(k, b"u", orjson.dumps({"revision": 9}))
    assert not p.worth_sending(k, b"u", 8, b"x")
    assert p.worth_sending(k, b"u", 10, b"x")


def test_a_range_round_trips() -> None:
    r = Range({0: (0, 10), 1: (5, 5)})
    assert decode_range(encode_range(r)) == r
    assert r.partitions == 2
    assert r.events() == 10


def _generations(*records: tuple[bytes, bytes | None]) -> Generations:
    return Generations.fold(records)


def test_generations_fold_numbers_and_unfinished_replays() -> None:
    r = encode_range(Range({0: (0, 1), 1: (0, 1)}))
    g = _generations((range_key(2), r), (done_key(2, 0), b"1"), (range_key(2), b"{}"))
    assert g.ranges[2].partitions == 2  # the first range stored wins
    assert g.unfinished() == [2]
    assert g.to_replay() == 2
    g = _generations((range_key(2), r), (done_key(2, 0), b"1"), (done_key(2, 1), b"1"))
    assert g.complete(2)
    assert g.to_replay() == 3
    assert g.current_of("agent-state") == 1


def test_the_live_worker_follows_a_generation_current_for_both_projections() -> None:
    r = encode_range(Range({0: (0, 1), 1: (0, 4), 2: (0, 0)}))
    done = [(range_key(2), r), *((done_key(2, q), b"1") for q in range(3))]
    both = [(current_key("agent-state"), b"2"), (current_key("task-lifecycle"), b"2")]
    assert live_generation(_generations()) == LiveGeneration(1)
    # both promoted: generation 2, with its own partition count
    assert live_generation(_generations(*done, *both)) == LiveGeneration(2, 3)
    # one projection alone: the worker stays on the live topics
    assert live_generation(_generations(*done, both[0])) == LiveGeneration(1)
    # promoted back to 1
    back = [(current_key(p), b"1") for p in ("agent-state", "task-lifecycle")]
    assert live_generation(_generations(*done, *both, *back)) == LiveGeneration(1)
    # never onto an incomplete or dropped generation, whatever the topic says
    assert live_generation(_generations(*done[:-1], *both)) == LiveGeneration(1)
    dropped = (b"dropped/g2", b"1")
    assert live_generation(_generations(*done, *both, dropped)) == LiveGeneration(1)


def test_a_seeded_replay_is_remembered_until_it_is_dropped() -> None:
    r = encode_range(Range({0: (0, 1)}))
    seeded = _generations((seeded_key(2), b"1"), (range_key(2), r), (done_key(2, 0), b"1"))
    assert seeded.seeded == {2}
    assert _generations((range_key(3), r)).seeded == set()
    dropped = decide_drop(seeded, 2)
    assert (seeded_key(2), None) in dropped.records
    assert 2 in _generations(*dropped.records).dropped


def test_promote_needs_a_complete_replay_and_drop_never_touches_current_ones() -> None:
    r = encode_range(Range({0: (0, 1)}))
    partial = _generations((range_key(2), r))
    with pytest.raises(GenerationError, match="not a complete"):
        decide_promote(partial, 2, ["agent-state"])
    done = _generations((range_key(2), r), (done_key(2, 0), b"1"))
    decision = decide_promote(done, 2, ["agent-state", "task-lifecycle"])
    assert decision.records == (
        (current_key("agent-state"), b"2"),
        (current_key("task-lifecycle"), b"2"),
    )
    promoted = _generations((range_key(2), r), (done_key(2, 0), b"1"), *decision.records)
    with pytest.raises(GenerationError, match="is current"):
        decide_drop(promoted, 2)
    with pytest.raises(GenerationError, match="never dropped"):
        decide_drop(promoted, 1)
    back = decide_promote(promoted, 1, ["agent-state", "task-lifecycle"])
    after = _generations(
        (range_key(2), r), (done_key(2, 0), b"1"), *decision.records, *back.records
    )
    dropped = decide_drop(after, 2)
    assert dropped.topics_to_delete == (2,)
    gone = _generations(*[(k, v) for k, v in [*decision.records, *back.records]], *dropped.records)
    assert 2 in gone.dropped
    assert gone.next_free() == 3
    with pytest.raises(GenerationError, match="dropped"):
        decide_promote(gone, 2, ["agent-state"])


def _raw_day() -> tuple[list[RawIn], dict[str, dict[str, object]]]:
    scenario = generate(
        ScenarioConfig(seed=5, agents=4, teams=1, queues=2, duration_ms=2 * HOUR_MS, tasks=30)
    )
    delivery = damage(scenario.events, DamageConfig(
        seed=5, shuffle_window_ms=5_000, duplicate_fraction=0.1, late_fraction=0.03,
        twin_fraction=0.05, conflict_fraction=0.02,
    ))  # fmt: skip
    partitioner = KeyPartitioner()
    offsets = [0] * PARTITIONS
    raw = []
    for arrived, event in delivery.deliveries:
        key = parse_event(event, received_at=0).entity_id.encode()
        p = partitioner.partition_of(key, PARTITIONS)
        raw.append(RawIn(p, offsets[p], orjson.dumps(event), raw_headers(event, arrived), arrived))
        offsets[p] += 1
    truth = {"agent": scenario.agent_truth, "task": scenario.task_truth}
    return raw, truth


Latest = dict[str, dict[str, object]]
HopCodec = Callable[[Sequence[Event]], bytes]


def _json_hop(events: Sequence[Event]) -> bytes:
    """A hop value as versions before the msgpack hops wrote it."""
    return b"[" + b",".join(e.to_json() for e in events) + b"]"


def _replay(
    raw: list[RawIn],
    owners: Iterable[set[int]],
    batch: int,
    hop_value: HopCodec = encode_hop,
    *,
    ordered: bool = True,
) -> Latest:
    """Replayers owning `owners` each, hops handed over in memory: the latest documents."""
    partitioner = KeyPartitioner()
    replayers = []
    for owned in owners:
        r = Replayer(PARTITIONS, POLICY, partitioner.partition_of, 100, ordered=ordered)
        for q in owned:
            r.own(q)
        replayers.append(r)
    latest: Latest = {"agent": {}, "task": {}}

    def keep(output: Output) -> None:
        for kind, docs in output.projections.items():
            for key, value in docs.items():
                latest[kind.value][key.decode()] = orjson.loads(value)

    for start in range(0, len(raw), batch):
        chunk = raw[start : start + batch]
        hops = []
        for r in replayers:
            mine = [x for x in chunk if r.owns(x.partition)]
            out = r.take(mine, [], range(PARTITIONS))
            keep(out)
            hops += out.hops
        for hop in hops:  # what the hop topic would deliver
            q = partitioner.partition_of(hop.key, PARTITIONS)
            body = hop_value(hop.events)
            for r in replayers:
                if r.owns(q):
                    keep(r.take([], [(q, 0, hop.key, hop.kind, body)], [q]))
    for r in replayers:
        for q in range(PARTITIONS):
            keep(r.flush(q))
    return latest


def test_the_replay_state_gives_ground_truth_however_the_partitions_are_shared() -> None:
    raw, truth = _raw_day()
    assert _replay(raw, [set(range(PARTITIONS))], batch=200) == truth
    assert _replay(raw, [{0, 2}, {1, 3}], batch=37) == truth


def test_hops_written_as_json_by_an_earlier_version_give_the_same_documents() -> None:
    raw, truth = _raw_day()
    assert _replay(raw, [{0, 2}, {1, 3}], batch=37, hop_value=_json_hop) == truth


def test_a_replay_without_the_ordered_topics_gives_the_same_documents() -> None:
    raw, truth = _raw_day()
    assert _replay(raw, [{0, 2}, {1, 3}], batch=37, ordered=False) == truth


def _day_events() -> list[Event]:
    raw, _ = _raw_day()
    events = []
    for r in raw:
        targets = target_raw(r.value, header_map(r.headers), timestamp_ms=r.timestamp_ms, source={})
        if targets.event is not None:
            events.append(targets.event)
    return events


def test_a_hop_value_gives_back_the_very_events_in_both_formats() -> None:
    events = _day_events()
    assert len(events) > 100
    for start in range(0, len(events), 3):
        chunk = tuple(events[start : start + 3])
        assert decode_hop(encode_hop(chunk)) == chunk
        assert decode_hop(_json_hop(chunk)) == chunk
        # the events' own encoding is unchanged by the trip (documents hash these bytes)
        assert [e.to_json() for e in decode_hop(encode_hop(chunk))] == [e.to_json() for e in chunk]


def test_the_core_without_ordered_events_changes_nothing_else() -> None:
    events = _day_events()
    for kind in EntityKind:
        by_key: dict[str, list[Event]] = {}
        for e in events:
            if e.entity_kind is kind:
                by_key.setdefault(e.entity_id, []).append(e)
        records = [
            Record(0, i, key.encode(), b"", events=tuple(evs))
            for i, (key, evs) in enumerate(by_key.items())
        ] + [Record(0, -1, None, b"")]
        now = max(e.received_at or 0 for e in events) + POLICY.flush_timeout_ms + 60_000
        table: dict[bytes, bytes] = {}
        full = process_batch(kind, records, table.get, now_ms=now, policy=POLICY)
        lean = process_batch(kind, records, table.get, now_ms=now, policy=POLICY, ordered=False)
        assert any(p.role is Role.ORDERED for p in full.publications)
        assert lean.publications == [p for p in full.publications if p.role is not Role.ORDERED]
        assert lean.writes == full.writes
        assert lean.stats == full.stats


def test_the_replay_routes_each_raw_record_as_the_worker_does() -> None:
    raw, _ = _raw_day()
    broken = [
        RawIn(0, 10_000, b"{not json", [("received_at", b"5")], 5),
        RawIn(0, 10_001, orjson.dumps({"id": "x", "type": "agent:login"}), [], 6),
        RawIn(0, 10_002, None, [], 7),
    ]
    partitioner = KeyPartitioner()
    r = Replayer(PARTITIONS, POLICY, partitioner.partition_of, 100, ordered=False)
    for q in range(PARTITIONS):
        r.own(q)
    output = r.take([*raw, *broken], [], [])
    assert r.tally.raw == len(raw) + len(broken)
    assert r.tally.rejected == len(broken)
    expected_hops = []
    for record in raw:
        targets = target_raw(
            record.value, header_map(record.headers), timestamp_ms=record.timestamp_ms, source={}
        )
        assert targets.event is not None
        for kind, key in targets.streams:
            if partitioner.partition_of(key, PARTITIONS) != record.partition:
                expected_hops.append((kind, key, (targets.event,)))
    assert [(h.kind, h.key, h.events) for h in output.hops] == expected_hops
    assert r.tally.hopped == len(expected_hops) > 0

"""The worker's shell without Kafka: routing, batches, schedule, offsets, stall detection."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

import orjson
import pytest

from wxcc_stream.devtools.scenario import HOUR_MS, DamageConfig, ScenarioConfig, damage, generate
from wxcc_stream.processors.core.batch import Record, process_batch
from wxcc_stream.processors.core.log_cache import LogCache
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.report import Publication, Role
from wxcc_stream.processors.core.routing import route_raw
from wxcc_stream.processors.core.schedule import Schedule, bucket_key, index_key, is_internal_key
from wxcc_stream.processors.ops.liveness import StallDetector
from wxcc_stream.schemas.event import EntityKind
from wxcc_stream.schemas.raw_record import header_map

POLICY = Policy(grace_ms=3000, flush_timeout_ms=2000, horizon_ms=6 * HOUR_MS)
PARTITIONS = 4


class FakeTable(dict[bytes, bytes]):
    """The table as the agent uses it: values written once per batch."""

    def apply(self, writes: dict[int, dict[bytes, bytes | None]]) -> None:
        for values in writes.values():
            for key, value in values.items():
                if value is None:
                    self.pop(key, None)
                else:
                    self[key] = value


class Pipeline:
    """Routing and both per-entity streams, in memory, with a processing-time clock."""

    def __init__(self, batch: int = 50, cache: bool = True) -> None:
        self.batch = batch
        self.tables = {kind: FakeTable() for kind in EntityKind}
        self.caches = {kind: LogCache(10_000) if cache else None for kind in EntityKind}
        self.projections: dict[EntityKind, dict[str, dict[str, Any]]] = {k: {} for k in EntityKind}
        self.outputs: list[Publication] = []
        self.now = 1_000_000

    def feed(self, events: Iterable[dict[str, Any]]) -> None:
        pending: dict[EntityKind, list[Record]] = {k: [] for k in EntityKind}
        for n, event in enumerate(events):
            routed = route_raw(orjson.dumps(event), {}, timestamp_ms=self.now, source={})
            assert routed.deadletter is None, routed.deadletter
            for kind, key, value in routed.streams:
                pending[kind].append(Record(zlib.crc32(key) % PARTITIONS, n, key, value))
        for kind, records in pending.items():
            for i in range(0, len(records), self.batch):
                self.step(kind, records[i : i + self.batch])

    def step(self, kind: EntityKind, records: list[Record]) -> None:
        result = process_batch(
            kind, records, self.tables[kind].get, now_ms=self.now, policy=POLICY,
            cache=self.caches[kind],
        )  # fmt: skip
        self.now += 10
        for out in result.publications:
            self.outputs.append(out)
            if out.role is Role.PROJECTION:
                assert out.key is not None
                doc = orjson.loads(out.value)
                held = self.projections[kind].get(out.key.decode())
                assert held is None or doc["revision"] >= held["revision"]
                self.projections[kind][out.key.decode()] = doc
        self.tables[kind].apply(result.writes)

    def tick(self, advance_ms: int) -> None:
        self.now += advance_ms
        for kind in EntityKind:
            self.step(kind, [Record(p, 0, None, b"tick") for p in range(PARTITIONS)])


def _scenario() -> Any:
    return generate(
        ScenarioConfig(seed=9, agents=6, teams=2, queues=2, duration_ms=4 * HOUR_MS, tasks=80)
    )


@pytest.mark.parametrize("cache", [True, False])
def test_damaged_delivery_through_the_shell_equals_ground_truth(cache: bool) -> None:
    scenario = _scenario()
    delivery = damage(
        scenario.events,
        DamageConfig(seed=3, shuffle_window_ms=5000, duplicate_fraction=0.1, late_fraction=0.05),
    )
    pipeline = Pipeline(cache=cache)
    pipeline.feed(event for _, event in delivery.deliveries)
    pipeline.tick(POLICY.flush_timeout_ms)  # the quiet ones are released by the tick
    assert pipeline.projections[EntityKind.AGENT] == scenario.agent_truth
    assert pipeline.projections[EntityKind.TASK] == scenario.task_truth
    # nothing left buffered: every schedule index is empty
    for table in pipeline.tables.values():
        for key, value in table.items():
            if key.startswith(b"\x00schedule/"):
                assert orjson.loads(value)["due"] == {}


def test_a_quiet_entity_is_released_only_by_a_tick_after_the_timeout() -> None:
    scenario = _scenario()
    first_agent_event = next(e for e in scenario.events if e["type"] == "agent:login")
    pipeline = Pipeline()
    pipeline.feed([first_agent_event])
    assert not pipeline.projections[EntityKind.AGENT]  # held for the grace
    pipeline.tick(POLICY.flush_timeout_ms - 100)
    assert not pipeline.projections[EntityKind.AGENT]
    pipeline.tick(100)
    (doc,) = pipeline.projections[EntityKind.AGENT].values()
    assert doc["revision"] == 1
    assert doc["loggedIn"] is True


def test_conflicts_go_to_the_dead_letters_with_both_versions() -> None:
    event = next(e for e in _scenario().events if e["type"] == "agent:login")
    changed = {**event, "data": {**event["data"], "idleCodeId": "other"}}
    pipeline = Pipeline()
    pipeline.feed([event, event, changed])
    letters = [orjson.loads(o.value) for o in pipeline.outputs if o.role is Role.DEADLETTER]
    assert [x["reason"] for x in letters] == ["conflict"]
    assert letters[0]["rejected"]["data"]["idleCodeId"] == "other"


def test_a_replayed_batch_writes_the_unchanged_value_again() -> None:
    """After a crash, a local store (RocksDB) can hold a value its changelog never got; the
    records are replayed from the committed offset and are all duplicates there. The value is
    written again (same bytes) so the changelog gets it; a batch of new events still writes."""
    events = [e for e in _scenario().events if e["type"].startswith("agent:")][:3]
    records = [
        Record(0, n, key, value)
        for n, event in enumerate(events)
        for kind, key, value in route_raw(
            orjson.dumps(event), {}, timestamp_ms=0, source={}
        ).streams
        if kind is EntityKind.AGENT
    ]
    table = FakeTable()
    first = process_batch(EntityKind.AGENT, records, table.get, now_ms=1_000, policy=POLICY)
    table.apply(first.writes)
    key = records[0].key
    assert key is not None
    stored = table[key]

    replay = process_batch(EntityKind.AGENT, records, table.get, now_ms=1_010, policy=POLICY)
    assert replay.stats.duplicates == len(records)
    assert replay.writes[0][key] == stored
    assert not [o for o in replay.publications if o.role is not Role.DEADLETTER]  # nothing re-sent

    quiet = process_batch(EntityKind.AGENT, [], table.get, now_ms=1_020, policy=POLICY)
    assert key not in quiet.writes.get(0, {})


def test_an_unreadable_stream_record_is_dead_lettered() -> None:
    pipeline = Pipeline()
    pipeline.step(EntityKind.AGENT, [Record(0, 7, b"agent-1", b"not json")])
    (letter,) = [orjson.loads(o.value) for o in pipeline.outputs]
    assert letter["reason"] == "bad_stream_record"
    assert letter["source"] == {"partition": 0, "offset": 7}


def test_routing_a_task_leg_feeds_both_streams_and_garbage_the_dead_letters() -> None:
    leg = next(
        e
        for e in _scenario().events
        if e["type"] == "agent:state_change" and e["data"].get("taskId")
    )
    routed = route_raw(orjson.dumps(leg), {"received_at": b"123"}, timestamp_ms=9, source={})
    kinds = [kind for kind, _, _ in routed.streams]
    assert kinds == [EntityKind.AGENT, EntityKind.TASK]
    assert orjson.loads(routed.streams[0][2])["receivedAt"] == 123
    bad = route_raw(
        b"\xff\xfe", header_map([("ce_id", b"x")]), timestamp_ms=9, source={"offset": 1}
    )
    assert bad.reason == "invalid_json"
    assert bad.deadletter is not None
    letter = orjson.loads(bad.deadletter)
    assert letter["bodyBase64"] == "//4="
    assert letter["headers"] == {"ce_id": "x"}


def test_schedule_files_expiry_in_buckets_and_works_them_off() -> None:
    store: dict[bytes, bytes | None] = {}
    schedule = Schedule.load(2, None, bucket_ms=1000)
    schedule.update("a", flush_at=None, expire_at=1500, filed_expire_at=None, load=store.get)
    schedule.update("b", flush_at=700, expire_at=None, filed_expire_at=None, load=store.get)
    store.update(schedule.writes())
    assert set(store) == {index_key(2), bucket_key(2, 1)}
    assert all(is_internal_key(k) for k in store)

    again = Schedule.load(2, store[index_key(2)], bucket_ms=1000)
    assert again.take_due(699, 10) == []
    assert again.take_due(700, 10) == ["b"]
    assert again.take_expiring(1499, 10, store.get) == []
    assert again.take_expiring(1500, 10, store.get) == ["a"]
    writes = again.writes()
    assert writes[bucket_key(2, 1)] is None  # worked off: deleted
    assert orjson.loads(writes[index_key(2)] or b"") == {"buckets": [], "due": {"b": 700}}


def test_stall_detector_needs_waiting_records_and_no_progress() -> None:
    detector = StallDetector(stall_after_ms=1000)
    tp = ("raw", 1)
    detector.assign([tp], now_ms=0)
    detector.committed(tp, 10, now_ms=0)
    detector.observe_end_offsets({tp: 10}, now_ms=0)
    assert detector.stalled(5000) == []  # idle, nothing waiting
    detector.observe_end_offsets({tp: 15}, now_ms=5000)
    assert detector.stalled(5500) != []  # five records waiting, no progress since 0
    detector.processed(tp, 14, now_ms=5600)
    (health,) = detector.health(5700)
    assert not health.stalled
    assert health.lag == 0


def test_a_bundle_of_events_is_processed_like_the_events_one_by_one() -> None:
    from wxcc_stream.processors.core.routing import bundle

    events = [e for e in _scenario().events if e["data"].get("agentId")][:40]
    one_by_one, bundled = Pipeline(), Pipeline()
    one_by_one.feed(events)
    by_key: dict[tuple[EntityKind, bytes], list[bytes]] = {}
    for event in events:
        routed = route_raw(orjson.dumps(event), {}, timestamp_ms=0, source={})
        for kind, key, value in routed.streams:
            by_key.setdefault((kind, key), []).append(value)
    for (kind, key), values in by_key.items():
        bundled.step(kind, [Record(zlib.crc32(key) % PARTITIONS, 0, key, bundle(values))])
    for pipeline in (one_by_one, bundled):
        pipeline.tick(POLICY.flush_timeout_ms)
    assert bundled.projections == one_by_one.projections
    assert bundled.projections[EntityKind.AGENT]

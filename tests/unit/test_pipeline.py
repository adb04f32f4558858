"""The agent's decisions without Faust (`processors.core.pipeline`): what is processed in
the partition it was read from, what hops, what is dead-lettered, where outputs go."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from wxcc_stream.devtools.scenario import ScenarioConfig, generate
from wxcc_stream.processors.core.batch import BatchResult
from wxcc_stream.processors.core.pipeline import Incoming, owned_writes, publications, route
from wxcc_stream.processors.core.report import Publication, Role, Stats
from wxcc_stream.schemas.event import EntityKind

STREAMS = {"agent-stream": EntityKind.AGENT, "task-stream": EntityKind.TASK}


def _leg() -> dict[str, Any]:
    events = generate(ScenarioConfig(agents=2, seed=3)).events
    return next(e for e in events if e["type"] == "agent:state_change" and e["data"].get("taskId"))


def _raw(value: bytes, partition: int = 1, offset: int = 5) -> Incoming:
    return Incoming("raw", partition, offset, b"k", value, [("received_at", b"7")], 9)


def _in_partition(partition: int) -> Any:
    return lambda key, count: partition


@pytest.mark.parametrize(
    ("home", "count", "local", "hops"),
    [
        (1, 4, 2, 0),  # both entities live in the partition it was read from
        (2, 4, 0, 2),  # neither does: both hop through their entity's stream
        (1, None, 0, 2),  # the partition counts differ (or are unknown): always the hop
    ],
)
def test_a_task_leg_is_processed_where_it_is_read_or_hops(
    home: int, count: int | None, local: int, hops: int
) -> None:
    routes = route(
        [_raw(orjson.dumps(_leg()))], STREAMS, shared_count=count, partition_of=_in_partition(home)
    )
    records = [r for kind in EntityKind for r in routes.records[kind]]
    assert len(records) == local
    assert sum(len(v) for v in routes.hops.values()) == hops
    assert routes.routed == {EntityKind.AGENT: 1, EntityKind.TASK: 1}
    assert sum(routes.hopped.values()) == hops
    assert routes.carriers == ({1: 0} if local else {})
    assert all(r.events is not None and r.events[0].received_at == 7 for r in records)


def test_stream_records_and_ticks_are_processed_in_their_partition() -> None:
    batch = [
        Incoming("task-stream", 3, 1, None, b'{"tick":1}', None, 0),
        Incoming("agent-stream", 2, 8, b"a-1", b"[]", None, 0),
    ]
    routes = route(batch, STREAMS, shared_count=4, partition_of=_in_partition(0))
    assert [(r.partition, r.key) for r in routes.records[EntityKind.TASK]] == [(3, None)]
    assert [(r.partition, r.key) for r in routes.records[EntityKind.AGENT]] == [(2, b"a-1")]
    assert routes.carriers == {3: 0, 2: 1}


def test_a_raw_record_that_does_not_parse_is_dead_lettered_with_where_it_was_read() -> None:
    routes = route([_raw(b"{not json")], STREAMS, shared_count=4, partition_of=_in_partition(1))
    (letter,) = [orjson.loads(raw) for raw in routes.letters]
    assert letter["reason"] == "invalid_json"
    assert letter["stage"] == "processor"
    assert letter["source"] == {"topic": "raw", "partition": 1, "offset": 5}
    assert routes.rejected == {"invalid_json": 1}
    assert routes.records == {EntityKind.AGENT: [], EntityKind.TASK: []}


def test_outputs_go_to_their_role_topic_after_the_hops_and_before_the_letters() -> None:
    routes = route(
        [_raw(orjson.dumps(_leg())), _raw(b"x")], STREAMS, shared_count=4,
        partition_of=_in_partition(2),
    )  # fmt: skip
    result = BatchResult(
        {}, [Publication(Role.PROJECTION, b"t", b"{}"), Publication(Role.LATE, b"t", b"L")], Stats()
    )
    roles = {k: {r: f"{k.value}.{r.value}" for r in Role} for k in EntityKind}
    sent = list(
        publications(
            routes,
            {EntityKind.TASK: result},
            role_topics=roles,
            stream_topics={k: f"{k.value}-stream" for k in EntityKind},
            deadletter_topic="dl",
        )
    )
    topics = [topic for topic, *_ in sent]
    assert topics == ["agent-stream", "task-stream", "task.projection", "task.late", "dl"]
    assert orjson.loads(sent[0][2])[0]["type"] == "agent:state_change"  # a bundle of events


@pytest.mark.parametrize(("owned", "written"), [(set(), [0, 1]), ({1}, [1]), ({5}, [])])
def test_only_the_partitions_still_owned_are_written(owned: set[int], written: list[int]) -> None:
    result = BatchResult({0: {b"a": b"1"}, 1: {b"b": None}}, [], Stats())
    assert [p for p, _ in owned_writes(result, owned)] == written

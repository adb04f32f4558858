"""The inputs of the core benchmark: a damaged generated day, and entities with a long
retained history, as the `Record`s a worker's agent hands to `process_batch`."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from wxcc_stream.devtools.scenario import HOUR_MS, DamageConfig, ScenarioConfig, damage, generate
from wxcc_stream.processors.core.batch import Record
from wxcc_stream.schemas.cloudevent import entity_keys, parse_event
from wxcc_stream.schemas.event import EntityKind, Event

PARTITIONS = 4


@dataclass(frozen=True, slots=True)
class Arrival:
    """One event as a per-entity stream delivers it: when, to which entity, decoded."""

    arrived_ms: int
    kind: EntityKind
    key: bytes
    event: Event


def partition_of(key: bytes) -> int:
    # any stable spread will do here: no broker decides it
    return zlib.crc32(key) % PARTITIONS


def damaged_day(seed: int, agents: int, tasks: int) -> list[Arrival]:
    """A generated day, shuffled within 5 s, 10% duplicated, 2% late by 10 min, 2% resent
    by a second source: every per-entity delivery, in arrival order."""
    scenario = generate(
        ScenarioConfig(
            seed=seed, agents=agents, teams=5, queues=4, duration_ms=24 * HOUR_MS, tasks=tasks
        )
    )
    delivery = damage(
        scenario.events,
        DamageConfig(
            seed=seed,
            shuffle_window_ms=5_000,
            duplicate_fraction=0.1,
            late_fraction=0.02,
            twin_fraction=0.02,
        ),
    )
    out: list[Arrival] = []
    for arrived, raw in delivery.deliveries:
        event = parse_event(raw, received_at=arrived)
        for kind, entity_id in entity_keys(event):
            out.append(Arrival(arrived, kind, entity_id.encode(), event))
    return out


def batches(
    arrivals: Sequence[Arrival], kind: EntityKind, size: int
) -> Iterator[tuple[int, list[Record]]]:
    """(now_ms, records) for one kind's stream: `size` records and one tick per partition,
    as a worker sees them with its timer."""
    own = [a for a in arrivals if a.kind is kind]
    for start in range(0, len(own), size):
        chunk = own[start : start + size]
        records = [
            Record(partition_of(a.key), start + i, a.key, b"", (a.event,))
            for i, a in enumerate(chunk)
        ]
        records.extend(Record(p, 0, None, b"") for p in range(PARTITIONS))
        yield chunk[-1].arrived_ms, records


def _agent_event(template: dict[str, Any], agent_id: str, n: int, at: int) -> dict[str, Any]:
    data = dict(
        template["data"],
        agentId=agent_id,
        createdTime=at,
        currentState="available" if n % 2 else "idle",
    )
    return dict(template, id=f"{agent_id}-{n}", data=data)


def long_histories(
    entities: int, history: int, rounds: int, seed: int = 7
) -> tuple[list[tuple[int, list[Record]]], list[tuple[int, list[Record]]]]:
    """(warm-up batches, timed batches) of agent state changes: the warm-up gives each of
    `entities` agents `history` retained events; each timed batch then brings one more
    event per agent, 1 s apart in event time, so each is released `rounds` times."""
    scenario = generate(ScenarioConfig(seed=seed, agents=2, tasks=2))
    template = next(e for e in scenario.events if e["type"] == "agent:state_change")
    start = scenario.config.start_ms
    ids = [f"bench-agent-{i:05d}" for i in range(entities)]

    def event(agent_id: str, n: int) -> Event:
        at = start + n * 1_000
        return parse_event(_agent_event(template, agent_id, n, at), received_at=at)

    warm_events = {a: tuple(event(a, n) for n in range(history)) for a in ids}
    last = start + history * 1_000
    # one record per agent holding its whole history: built by the core, not timed
    warm = [
        (
            last + 60_000,
            [Record(partition_of(a.encode()), 0, a.encode(), b"", warm_events[a]) for a in ids]
            + [Record(p, 0, None, b"") for p in range(PARTITIONS)],
        )
    ]
    timed = []
    for r in range(rounds):
        n = history + r
        now = start + n * 1_000 + 60_000  # past grace and flush: each is released at once
        timed.append(
            (
                now,
                [Record(partition_of(a.encode()), n, a.encode(), b"", (event(a, n),)) for a in ids],
            )
        )
    return warm, timed

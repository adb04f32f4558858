"""Benchmark: `wxcc-stream replay` against a bare aiokafka consumer, same topic, same run.

    python -m bench.replay [--bootstrap HOST:PORT] [--events 30000] [--ordered]
                           [--batch-max 5000[,20000...]] [--profile DIR]

1. a Kafka broker: `--bootstrap`, else a private one started from the official jars;
2. a raw topic (4 partitions) pre-filled with `--events` generated WxCC events (days of 50
   agents / 2,000 tasks, shuffled, 10% duplicates), keyed like the ingress keys them;
3. events/s of a plain aiokafka consumer reading the whole topic (fresh group);
4. events/s of one replay process over the same topic into a new generation (in this
   process: the whole command's work from the range lookup to the last partition marked
   done), CPU seconds per event (this process: the core, aiokafka's decoding and
   producing); once per `--batch-max` value, each into its own generation;
5. the bare consumer again, and the ratio replay / bare (the mean of both bare runs;
   issue 14's target: >= 35%);
6. the replay's pure part alone (`Replayer` over the same records in memory, hops handed
   over as the engine encodes them, no Kafka): CPU per raw record, and the ratio one
   process would reach if Kafka cost it nothing (the ceiling of the Kafka-side levers);
7. with `--profile DIR`, py-spy samples this process during the first replay and the top
   functions are printed (`bench/profile.py`).

Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from bench.bare_consumer import bare_consumer
from bench.processor.run import (
    PARTITIONS,
    broker,
    create_topic,
    produce,
    scenario_records,
)
from bench.processor.run import Record as Produced
from bench.profile import Profile, print_top
from wxcc_stream.base.partitioning import KeyPartitioner
from wxcc_stream.base.settings import Settings, TopicSettings
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.replay.engine import run_replay
from wxcc_stream.processors.replay.hops import encode_hop
from wxcc_stream.processors.replay.job import ReplayJob, Summary, generation_topics
from wxcc_stream.processors.replay.state import Output, RawIn, Replayer
from wxcc_stream.schemas.event import EntityKind


def _job(
    bootstrap: str, topics: TopicSettings, generation: int, ordered: bool, batch_max: int
) -> ReplayJob:
    projections, ordered_topics = generation_topics(Settings(topic=topics), generation)
    return ReplayJob(
        bootstrap=bootstrap, raw=topics.raw, hops=topics.replay_hops(generation),
        generations=topics.generations, generation=generation, projections=projections,
        ordered=ordered_topics if ordered else None, group=f"bench-replay-{uuid.uuid4().hex[:8]}",
        policy=Policy(), batch_max=batch_max,
    )  # fmt: skip


async def _replay(job: ReplayJob, profile: Path | None) -> tuple[Summary, float, float]:
    spy = Profile(os.getpid(), profile) if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        summary = await run_replay(job)
        return summary, time.perf_counter() - wall, time.process_time() - cpu
    finally:
        if spy is not None:
            spy.stop()


def pure_us_per_record(records: Sequence[Produced], batch_max: int, ordered: bool) -> float:
    """CPU µs per raw record of the replay's pure part: routing, the core, the hops encoded
    and decoded as the engine does, the final flush; no Kafka."""
    partitioner = KeyPartitioner()
    offsets = [0] * PARTITIONS
    raw = []
    for key, body, event in records:
        p = partitioner.partition_of(key, PARTITIONS)
        headers = [("ce_id", str(event["id"]).encode()), ("received_at", b"1700000000000")]
        raw.append(RawIn(p, offsets[p], body, headers, 1_700_000_000_000))
        offsets[p] += 1
    core = Replayer(PARTITIONS, Policy(), partitioner.partition_of, 50_000, ordered=ordered)
    for q in range(PARTITIONS):
        core.own(q)
    hop_offsets = [0] * PARTITIONS

    def delivered(output: Output) -> list[tuple[int, int, bytes, EntityKind, bytes]]:
        hops = []
        for hop in output.hops:
            q = partitioner.partition_of(hop.key, PARTITIONS)
            hops.append((q, hop_offsets[q], hop.key, hop.kind, encode_hop(hop.events)))
            hop_offsets[q] += 1
        return hops

    started = time.process_time()
    output = Output()
    for at in range(0, len(raw), batch_max):
        output = core.take(raw[at : at + batch_max], delivered(output), range(PARTITIONS))
    core.take([], delivered(output), range(PARTITIONS))
    for q in range(PARTITIONS):
        core.flush(q)
    return (time.process_time() - started) / len(raw) * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__)
    parser.add_argument("--bootstrap")
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--ordered", action="store_true", help="rebuild the ordered topics too")
    parser.add_argument(
        "--batch-max", default="5000", help="raw records per batch; a comma list: one replay each"
    )
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the replay; write DIR/replay.txt"
    )
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.batch_max.split(",")]
    profile = args.profile / "replay.txt" if args.profile else None
    if profile:
        profile.parent.mkdir(parents=True, exist_ok=True)
    records = scenario_records(args.events)
    topics = TopicSettings(prefix=f"bench{uuid.uuid4().hex[:8]}")
    runs = []
    with broker(args.bootstrap) as bootstrap:
        asyncio.run(create_topic(bootstrap, topics.raw))
        asyncio.run(produce(bootstrap, topics.raw, records))
        bare = [asyncio.run(bare_consumer(bootstrap, topics.raw, len(records)))]
        for n, size in enumerate(sizes):
            job = _job(bootstrap, topics, 2 + n, args.ordered, size)
            runs.append((size, *asyncio.run(_replay(job, profile if n == 0 else None))))
        bare.append(asyncio.run(bare_consumer(bootstrap, topics.raw, len(records))))
    pure = {size: pure_us_per_record(records, size, args.ordered) for size in sizes}
    base = sum(rate for rate, _ in bare) / len(bare)
    base_us = sum(us for _, us in bare) / len(bare)
    hopped = runs[0][1].tally.hopped
    print(f"raw records:          {len(records):,} ({hopped:,} task legs hopped)")
    print(
        f"bare aiokafka:        {base:,.0f} events/s, CPU {base_us:.1f} us/event "
        f"({' then '.join(f'{r:,.0f}/s {us:.1f} us' for r, us in bare)})"
    )
    # the wall ratio is the target's; the CPU ratio is what it would be with a core each
    # (the machine's other load slows both sides, but not by the same factor)
    for size, summary, seconds, cpu in runs:
        rate = summary.tally.raw / seconds
        us = cpu / max(summary.tally.raw, 1) * 1e6
        print(
            f"replay, batches of {size:,}: {rate:,.0f} events/s, {seconds:.1f} s, "
            f"CPU {us:,.1f} us/event; ratio {rate / base:.1%} (target >= 35%), "
            f"by CPU {base_us / us:.1%}"
        )
    for size, us in pure.items():
        print(
            f"pure part, batches of {size:,}: {us:,.1f} us CPU/event; with Kafka free it "
            f"would reach {base_us / us:.1%} of the bare consumer by CPU"
        )
    if profile:
        print_top(profile, "replay", count=30)
    return 0

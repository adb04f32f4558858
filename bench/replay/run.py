"""Benchmark: `wxcc-stream replay` against a bare aiokafka consumer, same topic, same run.

    python -m bench.replay [--bootstrap HOST:PORT] [--events 30000] [--ordered]

1. a Kafka broker: `--bootstrap`, else a private one started from the official jars;
2. a raw topic (4 partitions) pre-filled with `--events` generated WxCC events (days of 50
   agents / 2,000 tasks, shuffled, 10% duplicates), keyed like the ingress keys them;
3. events/s of a plain aiokafka consumer reading the whole topic (fresh group);
4. events/s of one replay process over the same topic into generation 2 (in this process:
   the whole command's work from the range lookup to the last partition marked done), CPU
   seconds per event (this process: the core, aiokafka's decoding and producing);
5. the ratio replay / bare consumer (issue 14's target: >= 35%).

Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Sequence

from bench.processor.run import (
    broker,
    create_topic,
    produce,
    raw_consumer_rate,
    scenario_records,
)
from wxcc_stream.base.settings import Settings, TopicSettings
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.replay.engine import run_replay
from wxcc_stream.processors.replay.job import ReplayJob, Summary, generation_topics


def _job(bootstrap: str, topics: TopicSettings, ordered: bool) -> ReplayJob:
    projections, ordered_topics = generation_topics(Settings(topic=topics), 2)
    return ReplayJob(
        bootstrap=bootstrap, raw=topics.raw, hops=topics.replay_hops(2),
        generations=topics.generations, generation=2, projections=projections,
        ordered=ordered_topics if ordered else None, group=f"bench-replay-{uuid.uuid4().hex[:8]}",
        policy=Policy(),
    )  # fmt: skip


async def _replay(job: ReplayJob) -> tuple[Summary, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    summary = await run_replay(job)
    return summary, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__)
    parser.add_argument("--bootstrap")
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--ordered", action="store_true", help="rebuild the ordered topics too")
    args = parser.parse_args(argv)
    records = scenario_records(args.events)
    topics = TopicSettings(prefix=f"bench{uuid.uuid4().hex[:8]}")
    with broker(args.bootstrap) as bootstrap:
        asyncio.run(create_topic(bootstrap, topics.raw))
        asyncio.run(produce(bootstrap, topics.raw, records))
        bare = asyncio.run(raw_consumer_rate(bootstrap, topics.raw, len(records)))
        summary, seconds, cpu = asyncio.run(_replay(_job(bootstrap, topics, args.ordered)))
    rate = summary.tally.raw / seconds
    print(f"raw records:          {len(records):,} ({summary.tally.hopped:,} task legs hopped)")
    print(f"bare aiokafka:        {bare:,.0f} events/s")
    print(f"replay (1 process):   {rate:,.0f} events/s, {seconds:.1f} s")
    print(f"replay CPU per event: {cpu / max(summary.tally.raw, 1) * 1e6:,.1f} us")
    print(f"ratio replay / bare:  {rate / bare:.1%} (target >= 35%)")
    return 0

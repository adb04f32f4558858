"""Benchmark: `wxcc-stream replay` against a bare aiokafka consumer, same topic, same run.

    python -m bench.replay [--bootstrap HOST:PORT] [--events 30000] [--ordered] [--profile DIR]

1. a Kafka broker: `--bootstrap`, else a private one started from the official jars;
2. a raw topic (4 partitions) pre-filled with `--events` generated WxCC events (days of 50
   agents / 2,000 tasks, shuffled, 10% duplicates), keyed like the ingress keys them;
3. events/s of a plain aiokafka consumer reading the whole topic (fresh group);
4. events/s of one replay process over the same topic into generation 2 (in this process:
   the whole command's work from the range lookup to the last partition marked done), CPU
   seconds per event (this process: the core, aiokafka's decoding and producing);
5. the ratio replay / bare consumer (issue 14's target: >= 35%);
6. with `--profile DIR`, py-spy samples this process during the replay and the top
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

from bench.processor.run import (
    broker,
    create_topic,
    produce,
    raw_consumer_rate,
    scenario_records,
)
from bench.profile import Profile, print_top
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


async def _replay(job: ReplayJob, profile: Path | None) -> tuple[Summary, float, float]:
    spy = Profile(os.getpid(), profile) if profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        summary = await run_replay(job)
        return summary, time.perf_counter() - wall, time.process_time() - cpu
    finally:
        if spy is not None:
            spy.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__)
    parser.add_argument("--bootstrap")
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--ordered", action="store_true", help="rebuild the ordered topics too")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the replay; write DIR/replay.txt"
    )
    args = parser.parse_args(argv)
    profile = args.profile / "replay.txt" if args.profile else None
    if profile:
        profile.parent.mkdir(parents=True, exist_ok=True)
    records = scenario_records(args.events)
    topics = TopicSettings(prefix=f"bench{uuid.uuid4().hex[:8]}")
    with broker(args.bootstrap) as bootstrap:
        asyncio.run(create_topic(bootstrap, topics.raw))
        asyncio.run(produce(bootstrap, topics.raw, records))
        bare = asyncio.run(raw_consumer_rate(bootstrap, topics.raw, len(records)))
        summary, seconds, cpu = asyncio.run(_replay(_job(bootstrap, topics, args.ordered), profile))
    rate = summary.tally.raw / seconds
    print(f"raw records:          {len(records):,} ({summary.tally.hopped:,} task legs hopped)")
    print(f"bare aiokafka:        {bare:,.0f} events/s")
    print(f"replay (1 process):   {rate:,.0f} events/s, {seconds:.1f} s")
    print(f"replay CPU per event: {cpu / max(summary.tally.raw, 1) * 1e6:,.1f} us")
    print(f"ratio replay / bare:  {rate / bare:.1%} (target >= 35%)")
    if profile:
        print_top(profile, "replay", count=30)
    return 0

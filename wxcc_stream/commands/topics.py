"""`wxcc-stream topics scale --partitions N`: grow the raw topic, rebuild the projections
into a generation with N partitions, promote it (docs/replay.md, "Scaling partitions")."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions
from aiokafka.errors import KafkaError

from wxcc_stream.base.kafka_topics import TopicError, TopicSpec, ensure_topics
from wxcc_stream.base.settings import Settings
from wxcc_stream.base.topic_log import append, partitions_of, read_topic
from wxcc_stream.commands.options import add_bootstrap, exit_code, with_bootstrap
from wxcc_stream.commands.replay import ReplayBar, print_summary, progress_bar, replay_job
from wxcc_stream.processors.replay.engine import run_replay
from wxcc_stream.processors.replay.generations import (
    PROJECTIONS,
    GenerationError,
    Generations,
    decide_promote,
)
from wxcc_stream.processors.replay.scaling import ScalePlan, plan_scale

# a partition increase reaches every broker's metadata within seconds
_GROWN_WITHIN_S = 30.0


def register(subparsers: Any) -> None:
    """Add the `topics` subcommand."""
    parser = subparsers.add_parser(
        "topics",
        help="scale the topics' partitions (grow the raw topic, rebuild, promote)",
        description="Manage the project's topics. `wxcc-stream topics scale --help`: scaling.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    scale = actions.add_parser(
        "scale",
        help="grow to N partitions: raw topic, replay, promote",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            'Grow to N partitions, the whole procedure of README "Scaling", in order:\n'
            "    1. grow <prefix>.raw to N partitions (Kafka only adds partitions; records\n"
            "       already stored stay where they are, new ones of an entity go to its\n"
            "       new partition: the worker and the replay route them by key)\n"
            "    2. replay the raw topic into the next generation, whose projection\n"
            "       topics get N partitions (entity-keyed topics cannot be grown in place:\n"
            "       a key would change partition), seeding the tables of that\n"
            "       generation's worker (replay --seed); progress bar, then the summary\n"
            "    3. promote it: consumers following <prefix>.generations switch to .gN\n\n"
            "Run it while the ingress and the worker keep running: the worker notices the\n"
            "new raw partitions (WXCC_WORKER_METADATA_MAX_AGE_MS) and goes on; once the\n"
            "generation is promoted it stops (exit code 75) and, started again (by\n"
            "`wxcc-stream run` or its service manager), runs generation N live. After a\n"
            "crash run the same command again: it continues.\n\n"
            "Exit code: 0 done, 1 Kafka failed (rerun), 2 refused (the message says why)."
        ),
    )
    scale.add_argument(
        "--partitions",
        type=int,
        required=True,
        metavar="N",
        help="partitions wanted (raw and projections)",
    )
    scale.add_argument(
        "--generation", type=int,
        help="generation to build (default: an unfinished one over N partitions, else the next)",
    )  # fmt: skip
    scale.add_argument(
        "--ordered", action="store_true", help="rebuild the ordered topics in the generation too"
    )
    scale.add_argument("--batch-max", type=int, default=5000, help="raw records per batch")
    scale.add_argument("--quiet", action="store_true", help="no progress bar")
    add_bootstrap(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out the action; see --help for the exit codes."""
    settings = with_bootstrap(settings, args.bootstrap)
    return exit_code(
        "topics",
        lambda: asyncio.run(_scale(args, settings)),
        usage=(GenerationError,),
        failure=(KafkaError, TopicError, LookupError, OSError, TimeoutError),
    )


async def _scale(args: argparse.Namespace, settings: Settings) -> int:
    bootstrap, t = settings.kafka.bootstrap, settings.topic
    compacted = t.configs({"cleanup.policy": "compact"})
    await ensure_topics(bootstrap, [TopicSpec(t.generations, 1, compacted, t.replication_factor)])
    raw_partitions = len(await partitions_of(bootstrap, t.raw))
    if not raw_partitions:
        raise LookupError(f"no topic {t.raw}: start the worker (or the ingress) first")
    state = Generations.fold(await read_topic(bootstrap, t.generations))
    plan = plan_scale(state, raw_partitions, args.partitions, args.generation)
    await _grow_raw(bootstrap, t.raw, plan)
    print(f"[2/3] replay into generation {plan.generation} ({plan.partitions} partitions)")
    with progress_bar(args.quiet) as bar:
        job = replay_job(
            settings, plan.generation, ordered=args.ordered, seed=True, batch_max=args.batch_max
        )
        summary = await run_replay(job, ReplayBar(bar))
    print_summary(summary)
    state = Generations.fold(await read_topic(bootstrap, t.generations))
    decision = decide_promote(state, plan.generation, PROJECTIONS)
    await append(bootstrap, t.generations, list(decision.records))
    print(
        f"[3/3] generation {plan.generation} ({plan.partitions} partitions) is current for "
        f"{', '.join(PROJECTIONS)}; a worker following the generations topic stops "
        "with exit code 75 within WXCC_WORKER_GENERATION_CHECK_MS, and started again it "
        f"writes generation {plan.generation} live"
    )
    return 0


async def _grow_raw(bootstrap: str, raw: str, plan: ScalePlan) -> None:
    if not plan.grows:
        print(f"[1/3] {raw} has {plan.raw_before} partitions already")
        return
    print(f"[1/3] {raw}: {plan.raw_before} -> {plan.partitions} partitions")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_partitions({raw: NewPartitions(total_count=plan.partitions)})
    finally:
        await admin.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _GROWN_WITHIN_S
    while len(await partitions_of(bootstrap, raw)) < plan.partitions:
        if loop.time() > deadline:
            raise TimeoutError(f"{raw} does not show {plan.partitions} partitions yet")
        await asyncio.sleep(0.5)

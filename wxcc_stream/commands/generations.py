"""`wxcc-stream generations list|promote|drop`: which topic generation is current."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from aiokafka.errors import KafkaError

from wxcc_stream.base.kafka_topics import TopicError, TopicSpec, ensure_topics
from wxcc_stream.base.settings import Settings
from wxcc_stream.base.topic_log import append, delete_topics, read_topic
from wxcc_stream.commands.options import add_bootstrap, exit_code, with_bootstrap
from wxcc_stream.processors.replay.follow import settings_for_generation
from wxcc_stream.processors.replay.generations import (
    PROJECTIONS,
    GenerationError,
    Generations,
    LiveGeneration,
    decide_drop,
    decide_promote,
    live_generation,
)
from wxcc_stream.processors.replay.job import generation_topics
from wxcc_stream.processors.shell.app import changelog_topic
from wxcc_stream.processors.shell.topology import repartition_topic_name
from wxcc_stream.schemas.event import EntityKind

_KIND_OF = {"agent-state": EntityKind.AGENT, "task-lifecycle": EntityKind.TASK}


def register(subparsers: Any) -> None:
    """Add the `generations` subcommand."""
    parser = subparsers.add_parser(
        "generations",
        help="list, promote or drop topic generations built by `wxcc-stream replay`",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "A replay writes a new generation of the projection topics (<topic>.gN);\n"
            "generation 1 is the live topics. The compacted topic <prefix>.generations\n"
            "names the current generation of each projection: consumers read it to know\n"
            'which topic to follow (README, "Replay").\n\n'
            "  list             every generation, its replay's progress, which is current\n"
            "  promote N        make N current (a complete replay, or 1 to go back)\n"
            "  drop N           delete generation N's topics (never a current one, never 1)\n\n"
            "Exit code: 0 done, 1 Kafka failed, 2 refused (the message says why)."
        ),
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="every generation and which one is current")
    promote = actions.add_parser("promote", help="make generation N current")
    promote.add_argument("generation", type=int, metavar="N")
    promote.add_argument(
        "--projection", choices=PROJECTIONS, action="append",
        help="only this projection (repeatable; default both)",
    )  # fmt: skip
    drop = actions.add_parser("drop", help="delete generation N's topics")
    drop.add_argument("generation", type=int, metavar="N")
    add_bootstrap(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out the action; see --help for the exit codes."""
    settings = with_bootstrap(settings, args.bootstrap)
    return exit_code(
        "generations",
        lambda: asyncio.run(_run(args, settings)),
        usage=(GenerationError,),
        failure=(KafkaError, TopicError, OSError, TimeoutError),
        failure_text="Kafka failed: {exc}",
    )


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    bootstrap, topic = settings.kafka.bootstrap, settings.topic.generations
    t = settings.topic
    await ensure_topics(
        bootstrap,
        [TopicSpec(topic, 1, t.configs({"cleanup.policy": "compact"}), t.replication_factor)],
    )
    state_records = await read_topic(bootstrap, topic)
    state = Generations.fold(state_records)
    if args.action == "list":
        for line in describe(state, settings):
            print(line)
        return 0
    if args.action == "promote":
        projections = args.projection or list(PROJECTIONS)
        decision = decide_promote(state, args.generation, projections)
        await append(bootstrap, topic, list(decision.records))
        print(f"generation {args.generation} is current for {', '.join(projections)}")
        after = live_generation(Generations.fold([*state_records, *decision.records]))
        print(
            f"the live worker writes generation {after.number}"
            + (
                " (a worker following the generations topic restarts onto it: exit code 75)"
                if after.number != live_generation(state).number
                else ""
            )
        )
        return 0
    decision = decide_drop(state, args.generation)
    projections, ordered = generation_topics(settings, args.generation)
    names = [*projections.values(), *ordered.values(), t.replay_hops(args.generation)]
    # and what a worker of that generation made: its streams and its tables' changelogs
    worker = settings_for_generation(settings, LiveGeneration(args.generation))
    names += [repartition_topic_name(worker, kind) for kind in EntityKind]
    names += [changelog_topic(worker, kind) for kind in EntityKind]
    deleted = await delete_topics(bootstrap, names)
    await append(bootstrap, topic, list(decision.records))
    print(f"generation {args.generation} dropped; deleted {', '.join(deleted) or 'no topic'}")
    return 0


def describe(state: Generations, settings: Settings) -> list[str]:
    """One line per generation: its topics' suffix, its replay's progress, where current."""
    lines = []
    for n in state.known():
        projections, _ = generation_topics(settings, n)
        current = [p for p in PROJECTIONS if state.current_of(p) == n]
        if n == 1:
            status = "live topics"
        elif n in state.dropped:
            status = "dropped"
        else:
            span = state.ranges.get(n)
            done = len(state.done.get(n, ()))
            total = span.partitions if span else 0
            status = "complete" if state.complete(n) else f"replaying ({done}/{total} partitions)"
            if span is not None:
                status += f", {span.events():,} raw records"
        mark = f"  <- current for {', '.join(current)}" if current else ""
        lines.append(f"g{n}: {status}; {projections[_KIND_OF['agent-state']]}, ...{mark}")
    return lines

"""`wxcc-stream replay`: rebuild the projections from the raw topic into a new generation."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from wxcc_stream.base.clock import SystemClock
from wxcc_stream.base.kafka_topics import TopicError
from wxcc_stream.base.settings import Settings
from wxcc_stream.base.topic_log import read_topic
from wxcc_stream.commands.options import add_bootstrap, exit_code, with_bootstrap
from wxcc_stream.devtools.simulator.errors import SimulatorError
from wxcc_stream.devtools.simulator.options import parse_start_ms
from wxcc_stream.processors.core.policy import policy_of
from wxcc_stream.processors.replay.engine import run_replay
from wxcc_stream.processors.replay.follow import settings_for_generation
from wxcc_stream.processors.replay.generations import Generations, LiveGeneration
from wxcc_stream.processors.replay.job import (
    Progress as ReplayProgress,
)
from wxcc_stream.processors.replay.job import (
    ReplayJob,
    Summary,
    generation_topics,
)
from wxcc_stream.processors.replay.state import Tally
from wxcc_stream.processors.shell.app import changelog_topic
from wxcc_stream.schemas.event import EntityKind


def register(subparsers: Any) -> None:
    """Add the `replay` subcommand."""
    parser = subparsers.add_parser(
        "replay",
        help="rebuild the projections from the raw topic into a new topic generation",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run the raw topic (all of it, or --from/--to) through the same pure core as\n"
            "the worker (dedupe, order, folds, late correction) into a new topic\n"
            "generation: <prefix>.projection.agent-state.gN and .task-lifecycle.gN (and the\n"
            "ordered topics with --ordered), while the live pipeline keeps running. The\n"
            "core's processing time is each record's receive time, so the documents are\n"
            "the ones live computed. Check the result, then `wxcc-stream generations\n"
            "promote N`.\n\n"
            "Scale out: start the same command (same --generation and --group) on several\n"
            "machines; they share the raw topic's partitions as one consumer group and the\n"
            "result is the same as one process's.\n\n"
            "After a crash run the same command again: it rebuilds its state from the start\n"
            "of the generation's range (stored in <prefix>.generations) and sends no\n"
            "projection document older than one already in the generation's topics.\n\n"
            "Exit code: 0 done (or already complete), 1 Kafka failed (rerun), 2 bad arguments."
        ),
    )
    parser.add_argument(
        "--generation",
        type=int,
        help="generation to build (default: the unfinished replay if any, else the next free)",
    )
    parser.add_argument(
        "--from", dest="start", help="first raw records: ISO time or epoch ms (receive time)"
    )
    parser.add_argument("--to", dest="end", help="stop before records received at this time")
    parser.add_argument("--group", help="consumer group (default <app id>-replay-g<N>)")
    parser.add_argument(
        "--ordered", action="store_true", help="rebuild the ordered topics of the generation too"
    )
    parser.add_argument(
        "--seed", action="store_true",
        help="write the final table values to the changelogs of generation N's worker (instead "
        "of releasing what is held), so that worker starts from the replay's range end rather "
        "than folding the raw topic again from its start; decided by the first run of a "
        "generation",
    )  # fmt: skip
    add_bootstrap(parser)
    parser.add_argument(
        "--batch-max", type=int, default=5000, help="raw records per batch (default 5000)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


class ReplayBar(ReplayProgress):
    """rich's progress bar: raw records read, events/s and the time left."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._task: TaskID | None = None
        self._started = time.monotonic()

    def started(self, total: int) -> None:
        if self._task is None:
            self._task = self._bar.add_task("replay", total=total, rate=0.0, late=0)
        else:
            self._bar.update(self._task, total=total)

    def advanced(self, read: int, tally: Tally) -> None:
        if self._task is not None:
            rate = read / max(time.monotonic() - self._started, 1e-3)
            self._bar.update(self._task, completed=read, rate=rate, late=tally.late)


def progress_bar(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:,.0f} events/s"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet,
    )


def _job(args: argparse.Namespace, settings: Settings, generation: int) -> ReplayJob:
    now = SystemClock().now_ms()
    return replay_job(
        settings,
        generation,
        ordered=args.ordered,
        seed=args.seed,
        group=args.group,
        from_ms=None if args.start is None else parse_start_ms(args.start, now),
        to_ms=None if args.end is None else parse_start_ms(args.end, now),
        batch_max=args.batch_max,
    )


def replay_job(
    settings: Settings,
    generation: int,
    *,
    ordered: bool = False,
    seed: bool = False,
    group: str | None = None,
    from_ms: int | None = None,
    to_ms: int | None = None,
    batch_max: int = 5000,
) -> ReplayJob:
    """The replay of the raw topic into `generation`, from the settings (also used by
    `topics scale`)."""
    t = settings.topic
    projections, ordered_topics = generation_topics(settings, generation)
    worker = settings_for_generation(settings, LiveGeneration(generation))
    return ReplayJob(
        bootstrap=settings.kafka.bootstrap,
        raw=t.raw,
        hops=t.replay_hops(generation),
        generations=t.generations,
        generation=generation,
        projections=projections,
        ordered=ordered_topics if ordered else None,
        group=group or f"{settings.worker.app_id}-replay-g{generation}",
        policy=policy_of(settings),
        from_ms=from_ms,
        to_ms=to_ms,
        batch_max=batch_max,
        cache_entries=settings.worker.log_cache_entries,
        replicas=t.replication_factor,
        topic_configs=t.configs(),
        seed={kind: changelog_topic(worker, kind) for kind in EntityKind} if seed else None,
    )


def print_summary(s: Summary) -> None:
    if s.already_complete:
        print(f"replay: generation {s.generation} is already complete: nothing to do")
        return
    t = s.tally
    rate = t.raw / s.seconds if s.seconds > 0 else 0.0
    print(
        f"replay: generation {s.generation}: {t.raw:,} raw records in {s.seconds:.1f} s "
        f"({rate:,.0f} events/s), {t.events_out:,} events folded, {t.duplicates:,} duplicates, "
        f"{t.late:,} late, {t.conflicts:,} conflicts, {t.beyond_horizon:,} beyond the horizon, "
        f"{t.rejected:,} invalid (dead-lettered live), {t.hopped:,} task legs hopped; "
        f"partitions finished here: {', '.join(map(str, s.partitions)) or 'none'}"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Replay; the exit code says how it went (see --help)."""
    settings = with_bootstrap(settings, args.bootstrap)

    def replay() -> int:
        print_summary(asyncio.run(_replay(args, settings)))
        return 0

    usage, failure = (SimulatorError, ValueError), (TopicError, LookupError, OSError)
    return exit_code("replay", replay, usage=usage, failure=failure)


async def _replay(args: argparse.Namespace, settings: Settings) -> Summary:
    generation = args.generation
    if generation is None:
        records = await read_topic(settings.kafka.bootstrap, settings.topic.generations)
        generation = Generations.fold(records).to_replay()
    if generation < 2:
        raise ValueError("--generation: 1 is the live topics; a replay builds 2 or more")
    with progress_bar(args.quiet) as bar:
        return await run_replay(_job(args, settings, generation), ReplayBar(bar))

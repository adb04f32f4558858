"""`wxcc-stream backfill FILE...`: load exported CloudEvents into the raw topic."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from wxcc_stream.base.clock import SystemClock
from wxcc_stream.base.settings import Settings, SettingsError
from wxcc_stream.commands.options import add_bootstrap, with_bootstrap
from wxcc_stream.ingress.backfill import BackfillJob, BackfillSummary, run_backfill
from wxcc_stream.ingress.errors import IngressError, PublishError
from wxcc_stream.ingress.export import Topics, archive_policy
from wxcc_stream.ingress.policy import AdmissionPolicy
from wxcc_stream.ingress.publisher import KafkaConfig, KafkaRawPublisher

EXIT_REFUSED = 3
"""Every item was stored, but some went to the dead-letter topic."""


def register(subparsers: Any) -> None:
    """Add the `backfill` subcommand."""
    parser = subparsers.add_parser(
        "backfill",
        help="load exported CloudEvents (JSON Lines or a JSON array) into the raw topic",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Load files of CloudEvents -- an archive, another system's log, dead letters\n"
            "after a fix -- into the raw topic, as if the ingress had received them: the\n"
            "same admission code checks each event and keys it by agentId / taskId. A file\n"
            "is JSON Lines (one structured event per line) or one JSON array. Signatures\n"
            "and the v2 timestamp window are not checked (the file is trusted and old); the\n"
            "org and subscription allow-lists (WXCC_INGRESS_ALLOWED_*) are. An event that\n"
            "fails goes to the dead-letter topic with its reason, file and line.\n\n"
            "Loading the same file twice changes no projection (events keep their source\n"
            "and id, and the processors drop duplicates), so an interrupted load is simply\n"
            "run again. Events older than the worker's horizon behind an entity's newest\n"
            "event are kept in the raw topic but not folded live: `wxcc-stream replay`\n"
            "rebuilds projections from the whole raw topic.\n\n"
            "Exit code: 0 all stored, 3 some items dead-lettered, 1 Kafka failed midway\n"
            "(rerun), 2 a file cannot be read or is not JSON Lines / a JSON array."
        ),
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="export files")
    parser.add_argument(
        "--dry-run", action="store_true", help="check every item and print the summary only"
    )
    add_bootstrap(parser)
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar (the summary is still printed)"
    )
    parser.set_defaults(handler=run)


class _Bar:
    """rich's progress bar, per file by bytes read."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._task: TaskID | None = None

    def file_started(self, path: Path, size: int) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=self._bar.tasks[-1].total)
        self._task = self._bar.add_task(path.name, total=size, stored=0, refused=0)

    def advanced(self, position: int, stored: int, refused: int) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=position, stored=stored, refused=refused)


def _progress(console: Console, quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[stored]:,} stored, {task.fields[refused]:,} dead-lettered"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    )


def _print_summary(summary: BackfillSummary, dry_run: bool) -> None:
    verb = "would store" if dry_run else "stored"
    rate = summary.items / summary.seconds if summary.seconds > 0 else 0.0
    print(
        f"backfill: {summary.files} file(s), {summary.items:,} items, {verb} "
        f"{summary.stored:,} in the raw topic, {summary.deadlettered:,} dead-lettered, "
        f"{summary.seconds:.1f} s ({rate:,.0f} items/s)"
    )
    for reason, count in sorted(summary.refused.items()):
        print(f"  dead-lettered {reason}: {count:,}")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Load the files; the exit code says how it went (see --help)."""
    settings = with_bootstrap(settings, args.bootstrap)
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        print(f"wxcc-stream backfill: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        policy = AdmissionPolicy.from_settings(settings.ingress)
    except SettingsError as exc:
        print(f"wxcc-stream: bad setting: {exc}", file=sys.stderr)
        return 2
    job = BackfillJob(
        paths=tuple(args.files),
        topics=Topics(settings.topic.raw, settings.topic.deadletter),
        policy=archive_policy(policy),
        now_ms=SystemClock().now_ms,
        dry_run=args.dry_run,
    )
    try:
        summary = asyncio.run(_load(job, settings, quiet=args.quiet))
    except PublishError as exc:
        print(f"wxcc-stream backfill: Kafka failed, run it again: {exc}", file=sys.stderr)
        return 1
    except IngressError as exc:  # an export that is not JSON Lines or an array
        print(f"wxcc-stream backfill: {exc}", file=sys.stderr)
        return 2
    _print_summary(summary, args.dry_run)
    return EXIT_REFUSED if summary.deadlettered else 0


async def _load(job: BackfillJob, settings: Settings, *, quiet: bool) -> BackfillSummary:
    publisher = KafkaRawPublisher(KafkaConfig.from_settings(settings))
    with _progress(Console(stderr=True), quiet) as bar:
        if job.dry_run:
            return await run_backfill(job, publisher, _Bar(bar))
        await publisher.start()
        try:
            return await run_backfill(job, publisher, _Bar(bar))
        finally:
            await publisher.stop()

"""`wxcc-stream reconcile`: restore from the WxCC APIs what the webhooks lost."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

import aiohttp
from prometheus_client import start_http_server, write_to_textfile
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from wxcc_stream.base.clock import SystemClock
from wxcc_stream.base.settings import Settings
from wxcc_stream.commands.options import add_bootstrap, with_bootstrap
from wxcc_stream.devtools.simulator.errors import SimulatorError
from wxcc_stream.devtools.simulator.options import parse_duration_ms, parse_start_ms
from wxcc_stream.reconcile.client import ClientConfig, WxccApiClient
from wxcc_stream.reconcile.errors import ReconcileError
from wxcc_stream.reconcile.events import STATE_CHANGE_TYPES, Origin
from wxcc_stream.reconcile.job import PlanRequest, Summary, WindowResult
from wxcc_stream.reconcile.kafka import JobTopics
from wxcc_stream.reconcile.metrics import JobMetrics
from wxcc_stream.reconcile.run import JobConfig, run_job

log = logging.getLogger(__name__)
DRY_RUN_DETAILS = 200
"""Disagreements `--dry-run` lists one by one (the rest are counted)."""
_METRICS = JobMetrics.create()


def register(subparsers: Any) -> None:
    """Add the `reconcile` subcommand."""
    parser = subparsers.add_parser(
        "reconcile",
        help="read the WxCC APIs and inject the events the webhooks lost into the raw topic",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "WxCC does not guarantee webhook delivery. This job reads the same facts from\n"
            "the WxCC APIs (agent activities, Search task records, captures), turns each\n"
            "into the CloudEvent its webhook would have carried (deterministic id, marked\n"
            "wxccstreamreconciled) and publishes to the raw topic, keyed as the ingress\n"
            "keys it, the events the raw topic does not hold yet. Facts a webhook already\n"
            "delivered, or an earlier run injected, are counted as known and not sent\n"
            "again, so a second run over the same range injects nothing.\n\n"
            "Range: from the checkpoint (topic <prefix>.reconcile-checkpoints; first run:\n"
            "WXCC_RECONCILE_LOOKBACK_MS back) to now - WXCC_RECONCILE_SETTLE_MS, in windows\n"
            "of WXCC_RECONCILE_WINDOW_MS; the checkpoint moves after each window's events\n"
            "are acknowledged, so a killed run resumes at the window it had not finished.\n"
            "--since/--until read a given range instead (it resumes too when run again\n"
            "with the same bounds after a failure) and leave the rolling checkpoint alone.\n\n"
            "Settings: WXCC_RECONCILE_BASE_URL, _TOKEN_URL, _ORG_ID, _CLIENT_ID,\n"
            "_CLIENT_SECRET, _REFRESH_TOKEN, _SOURCE (the webhook subscription's source,\n"
            "/com/cisco/wxcc/<subscriptionId>), _STATE_CHANGE_TYPE, _REQUESTS_PER_MINUTE.\n\n"
            "Cron, nightly at 02:30 (one run, exit code tells how it went):\n"
            "  30 2 * * *  wxcc-stream reconcile --quiet --metrics-file \\\n"
            "                /var/lib/node_exporter/textfile/wxcc_reconcile.prom\n"
            "Or keep it running: wxcc-stream reconcile --every 1h --metrics-port 9473\n\n"
            "Exit code: 0 done, 1 the APIs or Kafka failed (run again: it resumes),\n"
            "2 bad settings or arguments."
        ),
    )
    parser.add_argument("--since", help="range start: ISO time, epoch ms or now-DURATION")
    parser.add_argument("--until", help="range end (default now - settle)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="publish nothing: print per entity what the projections miss or get wrong",
    )
    parser.add_argument("--every", help="run again every DURATION (e.g. 1h) until stopped")
    add_bootstrap(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--metrics-file", help="write the metrics here after each run")
    parser.add_argument(
        "--metrics-port", type=int, help="serve the metrics on HOST:PORT (with --every)"
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="the address --metrics-port binds (default 127.0.0.1; 0.0.0.0 in a container)",
    )
    parser.set_defaults(handler=run)


class _Bar:
    """rich's progress bar over the run's windows."""

    def __init__(self, bar: Progress, metrics: JobMetrics) -> None:
        self._bar, self._metrics = bar, metrics
        self._task: TaskID | None = None

    def planned(self, summary: Summary) -> None:
        total = len(summary.plan.windows)
        self._task = self._bar.add_task("windows", total=total, injected=0, known=0)

    def window_done(self, result: WindowResult) -> None:
        self._metrics.window_done(result)
        if self._task is not None:
            task = self._bar.tasks[self._task]
            self._bar.update(
                self._task,
                advance=1,
                injected=task.fields["injected"] + result.injected,
                known=task.fields["known"] + result.known,
            )


def _request(args: argparse.Namespace, settings: Settings, now: int) -> PlanRequest:
    r = settings.reconcile
    return PlanRequest(
        now_ms=now,
        settle_ms=r.settle_ms,
        lookback_ms=r.lookback_ms,
        window_ms=r.window_ms,
        since=None if args.since is None else parse_start_ms(args.since, now),
        until=None if args.until is None else parse_start_ms(args.until, now),
    )


def _job(args: argparse.Namespace, settings: Settings) -> JobConfig:
    r = settings.reconcile
    if not r.source.startswith("/"):
        raise ValueError("WXCC_RECONCILE_SOURCE must be the webhook source, /com/cisco/wxcc/...")
    if r.state_change_type not in STATE_CHANGE_TYPES:
        raise ValueError(f"WXCC_RECONCILE_STATE_CHANGE_TYPE: one of {sorted(STATE_CHANGE_TYPES)}")
    return JobConfig(
        bootstrap=settings.kafka.bootstrap,
        topics=JobTopics.from_settings(settings),
        origin=Origin(r.org_id, r.source),
        state_change_type=r.state_change_type,
        dry_run=args.dry_run,
    )


async def _once(
    args: argparse.Namespace, settings: Settings, job: JobConfig, metrics: JobMetrics
) -> Summary:
    clock = SystemClock()
    request = _request(args, settings, clock.now_ms())
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[known]:,} known, {task.fields[injected]:,} injected"),
        console=Console(stderr=True),
        disable=args.quiet,
    )
    async with aiohttp.ClientSession() as http:
        client = WxccApiClient(ClientConfig.from_settings(settings.reconcile), http)
        with bar:
            summary = await run_job(client, job, request, _Bar(bar, metrics), clock.now_ms)
    metrics.run_done(summary)
    return summary


def _report(summary: Summary, args: argparse.Namespace) -> None:
    if args.dry_run:
        for line in summary.details[:DRY_RUN_DETAILS]:
            print(line)
        if len(summary.details) > DRY_RUN_DETAILS:
            print(f"... and {len(summary.details) - DRY_RUN_DETAILS:,} more")
    for line in summary.lines():
        print(line, flush=True)
    if args.metrics_file:
        write_to_textfile(args.metrics_file, _METRICS.registry)


async def _loop(args: argparse.Namespace, settings: Settings, job: JobConfig, every_ms: int) -> int:
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_host, registry=_METRICS.registry)
    while True:
        try:
            _report(await _once(args, settings, job, _METRICS), args)
        except ReconcileError as exc:  # the next run resumes where this one stopped
            log.error("reconcile run failed: %s", exc)
        await asyncio.sleep(every_ms / 1000)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """One run (or one every --every); the exit code says how it went (see --help)."""
    settings = with_bootstrap(settings, args.bootstrap)
    try:
        job = _job(args, settings)
        every_ms = parse_duration_ms(args.every) if args.every else None
        _request(args, settings, 0)  # the bounds parse
    except (ValueError, SimulatorError) as exc:
        print(f"wxcc-stream reconcile: {exc}", file=sys.stderr)
        return 2
    if every_ms:
        return asyncio.run(_loop(args, settings, job, every_ms))
    try:
        summary = asyncio.run(_once(args, settings, job, _METRICS))
    except ReconcileError as exc:
        print(f"wxcc-stream reconcile: {exc} (run again: it resumes)", file=sys.stderr)
        return 1
    _report(summary, args)
    return 0

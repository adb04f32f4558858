"""`wxcc-stream worker`: run the stream processors (Faust) until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, TextIO

from wxcc_stream.base.compiled_core import core_build
from wxcc_stream.base.dir_lock import holder_of, lock_directory
from wxcc_stream.base.event_loop import new_event_loop
from wxcc_stream.base.gc_tuning import tune_garbage_collector
from wxcc_stream.base.settings import Settings, SettingsError, with_overrides

# flag -> WorkerSettings field (all integers)
_WORKER_FLAGS = {
    "grace_ms": "grace",
    "flush_timeout_ms": "flush timeout",
    "horizon_ms": "horizon",
    "tick_interval_ms": "tick interval",
    "web_port": "web port",
    "generation": "generation",
}


def register(subparsers: Any) -> None:
    """Add the `worker` subcommand."""
    parser = subparsers.add_parser(
        "worker",
        help="run the stream processors: dedupe, reorder and fold raw events into projections",
        description=(
            "Consume the raw topic, route every event to its per-agent and per-task stream, "
            "drop duplicates, reorder each entity's events by createdTime (released once the "
            "entity's watermark passes them by the grace, or after the flush timeout), fold "
            "them into the agent-state and task-lifecycle projections and publish those to "
            "their compacted topics (plus ordered event topics, a late topic and the dead "
            "letters). Health, readiness and Prometheus metrics are served on the web port "
            "(/healthz, /readyz, /metrics). Every flag has a WXCC_WORKER_* / WXCC_TOPIC_* "
            "environment variable; the flag wins."
        ),
    )
    parser.add_argument(
        "--grace-ms", type=int, default=None,
        help="hold an event until the entity's watermark passes it by this much "
        "(event time; env WXCC_WORKER_GRACE_MS, default 3000)",
    )  # fmt: skip
    parser.add_argument(
        "--flush-timeout-ms", type=int, default=None,
        help="release a quiet entity's held events after this much processing time "
        "(env WXCC_WORKER_FLUSH_TIMEOUT_MS, default 2000)",
    )  # fmt: skip
    parser.add_argument(
        "--horizon-ms", type=int, default=None,
        help="event-time history kept per entity for late corrections and dedupe; ended "
        "tasks and logged-out agents quiet this long keep only their final projection "
        "(env WXCC_WORKER_HORIZON_MS, default 21600000 = 6 h)",
    )  # fmt: skip
    parser.add_argument(
        "--tick-interval-ms", type=int, default=None,
        help="how often the flush ticks are sent (env WXCC_WORKER_TICK_INTERVAL_MS, default 500)",
    )  # fmt: skip
    parser.add_argument(
        "--partitions", type=int, default=None,
        help="partitions of the topics the worker creates (env WXCC_TOPIC_PARTITIONS, "
        "default 4); fixed once the topics exist",
    )  # fmt: skip
    parser.add_argument(
        "--generation", type=int, default=None,
        help="the topic generation to write (env WXCC_WORKER_GENERATION, default 0: the one "
        "current for both projections in the generations topic, read at start; when another "
        "is promoted the worker stops with exit code 75, to be started again on it); N "
        "runs generation N only (1: the live topics)",
    )  # fmt: skip
    parser.add_argument(
        "--web-port", type=int, default=None,
        help="port of /healthz, /readyz and /metrics on 127.0.0.1 "
        "(env WXCC_WORKER_WEB_PORT, default 6066)",
    )  # fmt: skip
    parser.add_argument(
        "--data-dir", default=None,
        help="local state: the RocksDB tables, under a directory per app id; one worker "
        "per data dir (env WXCC_WORKER_DATA_DIR, default var/worker; the table store is "
        "WXCC_WORKER_STORE: auto = RocksDB when installed, or memory://)",
    )  # fmt: skip
    parser.set_defaults(handler=run)


def settings_from(args: argparse.Namespace, settings: Settings) -> Settings:
    """Settings overridden by the flags that were given."""
    changes: dict[str, Any] = {
        name: getattr(args, name) for name in _WORKER_FLAGS if getattr(args, name) is not None
    }
    if args.data_dir is not None:
        changes["data_dir"] = args.data_dir
    for name, value in changes.items():
        if isinstance(value, int) and value < 0:
            raise SettingsError(f"--{name.replace('_', '-')}: must be 0 or more, got {value}")
    topic = settings.topic
    if args.partitions is not None:
        if args.partitions <= 0:
            raise SettingsError(f"--partitions: must be greater than 0, got {args.partitions}")
        topic = with_overrides(topic, partitions=args.partitions)
    return with_overrides(settings, worker=with_overrides(settings.worker, **changes), topic=topic)


WORKER_LOCK = "worker.lock"


def lock_data_dir(path: Path) -> TextIO | None:
    """An exclusive lock on the data dir (see `wxcc_stream.base.dir_lock`); None when another
    worker holds it."""
    return lock_directory(path, WORKER_LOCK)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Build the app from settings and run a Faust worker until stopped."""
    import faust
    from aiokafka.errors import KafkaError

    from wxcc_stream.base.kafka_topics import TopicError, ensure_topics
    from wxcc_stream.base.restart import RESTART_EXIT_CODE
    from wxcc_stream.processors.core.policy import PolicyError, policy_of
    from wxcc_stream.processors.replay.follow import (
        resolve_generation,
        settings_for_generation,
        start_after_seed,
        watch_generations,
    )
    from wxcc_stream.processors.replay.generations import LiveGeneration
    from wxcc_stream.processors.shell.app import app_data_dir, app_id, build_app
    from wxcc_stream.processors.shell.topology import topic_specs

    settings = settings_from(args, settings)
    try:
        policy_of(settings)  # refused before anything is asked of Kafka
    except PolicyError as exc:
        raise SettingsError(f"worker policy: {exc}") from None
    # one worker per data dir, whatever generation it runs (checked before Kafka is asked)
    base = settings_for_generation(settings, LiveGeneration(1))
    data_dir = app_data_dir(base)
    lock = lock_data_dir(data_dir)
    if lock is None:
        print(
            f"wxcc-stream worker: another worker of {app_id(base)} (pid "
            f"{holder_of(data_dir, WORKER_LOCK)}) uses {data_dir}; give each worker its own "
            "--data-dir (WXCC_WORKER_DATA_DIR)",
            file=sys.stderr,
        )
        return 2
    loop = new_event_loop()
    try:
        settings, switch, generations = loop.run_until_complete(resolve_generation(settings))
        loop.run_until_complete(start_after_seed(settings, generations))
    except (KafkaError, TimeoutError, OSError) as exc:
        logging.getLogger(__name__).error(
            "worker cannot start: reading %s failed: %s", settings.topic.generations, exc
        )
        return 1
    app = build_app(settings)
    if switch is not None:
        watch_generations(app, settings, switch)
    # Faust joins its group as soon as it starts: a changelog topic the broker does not list
    # yet is left out of the assignment, and the first table write then crashes the agent
    # (PartitionsMismatch) and loses records. So every topic exists and is served first.
    changelogs = [table.changelog_topic.get_topic_name() for table in app.tables.values()]
    try:
        loop.run_until_complete(
            ensure_topics(
                settings.kafka.bootstrap,
                topic_specs(settings, changelogs),
                client_id=f"{settings.kafka.client_id}-worker-admin",
                timeout_s=60.0,
            )
        )
    except TopicError as exc:
        logging.getLogger(__name__).error("worker cannot start: %s", exc)
        return 1
    w = settings.worker
    logging.getLogger(__name__).info(
        "worker %s on %s: topics %s.* generation %d%s (%d partitions), grace %d ms, "
        "flush timeout %d ms, horizon %d ms, web http://%s:%d",
        app_id(settings), settings.kafka.bootstrap, settings.topic.prefix,
        w.generation, " (pinned)" if switch is None else "", settings.topic.partitions,
        w.grace_ms, w.flush_timeout_ms, w.horizon_ms, w.web_host, w.web_port,
    )  # fmt: skip
    core = core_build()
    logging.getLogger(__name__).log(
        logging.INFO if core.compiled or "no build" in core.reason else logging.WARNING,
        "core: %s", core.reason,
    )  # fmt: skip
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())

    class Worker(faust.Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            # No terminal spinner: it sets the root logger to DEBUG so that it can spin on
            # every record, and then each debug call of aiokafka and faust builds one.
            self.spinner = None

    worker = Worker(app, loop=loop, loglevel=level, quiet=True, redirect_stdouts=False)
    tune_garbage_collector()
    code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = int(exc.code or 0)
    if switch is not None and switch.stopped_for is not None:
        return RESTART_EXIT_CODE
    return code

"""`wxcc-stream sink postgres`: the projection topics into PostgreSQL tables."""

from __future__ import annotations

import argparse
from typing import Any

from wxcc_stream.base.settings import Settings, SettingsError, with_overrides
from wxcc_stream.commands.options import add_bootstrap, kafka_with


def register(subparsers: Any) -> None:
    """Add the `sink` subcommand (one target today: postgres)."""
    parser = subparsers.add_parser(
        "sink", help="write the projection topics into a database (postgres)"
    )
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    postgres = targets.add_parser(
        "postgres",
        help="upsert both projection topics into PostgreSQL tables",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Read both projection topics (from the beginning, then live; consumer group\n"
            "WXCC_SINK_GROUP_ID) and upsert them into the tables agent_state and\n"
            "task_lifecycle (created by a versioned migration): the key, the core fields\n"
            "typed, the whole document as JSONB. A row only ever moves to a higher\n"
            "revision. One transaction per batch; Kafka offsets are committed after it.\n"
            "GET /healthz, /readyz, /metrics on WXCC_SINK_HOST:WXCC_SINK_PORT (8082).\n\n"
            "Settings (environment; flags override):\n"
            "  WXCC_SINK_DSN                libpq connection string or URI (never printed)\n"
            "  WXCC_SINK_GROUP_ID           Kafka consumer group (wxcc-stream-sink)\n"
            "  WXCC_SINK_BATCH_MAX_RECORDS  records per transaction (5000)\n"
            "  WXCC_KAFKA_BOOTSTRAP, WXCC_TOPIC_PREFIX"
        ),
    )
    postgres.add_argument("--dsn", help="PostgreSQL connection string (env WXCC_SINK_DSN)")
    postgres.add_argument("--port", type=int, help="health/metrics port (env WXCC_SINK_PORT)")
    add_bootstrap(postgres)
    postgres.set_defaults(handler=run)


def settings_from(args: argparse.Namespace, settings: Settings) -> Settings:
    """Settings with the flags applied; a DSN is required."""
    changes = {k: v for k, v in (("dsn", args.dsn), ("port", args.port)) if v is not None}
    if args.port is not None and not 0 < args.port < 65536:
        raise SettingsError(f"--port {args.port} is not a TCP port (1-65535)")
    sink = with_overrides(settings.sink, **changes)
    if not sink.dsn.strip():
        raise SettingsError(
            "WXCC_SINK_DSN (or --dsn): the PostgreSQL connection string is required"
        )
    kafka = kafka_with(settings.kafka, args.bootstrap)
    return with_overrides(settings, sink=sink, kafka=kafka)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start the sink and run until interrupted."""
    from wxcc_stream.sink.main import run_sink

    return run_sink(settings_from(args, settings))

"""`wxcc-stream ingress`: receive WxCC webhooks and store every valid event in Kafka."""

from __future__ import annotations

import argparse
from typing import Any

from wxcc_stream.base.settings import Settings, SettingsError, with_overrides
from wxcc_stream.commands.options import add_bootstrap, kafka_with


def register(subparsers: Any) -> None:
    """Add the `ingress` subcommand."""
    parser = subparsers.add_parser(
        "ingress",
        help="receive WxCC webhooks over HTTP and store them in Kafka",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Serve the webhook endpoint WxCC delivers CloudEvents to (structured, binary and\n"
            "batch modes). Each delivery is checked (X-WebexCC-Signature HMAC with the\n"
            "subscription's secret, v2 timestamp, org and subscription allow-lists, schema)\n"
            "and each valid event is written to the raw topic, keyed by agent or task id; the\n"
            "sender gets 202 only after Kafka acknowledged it (acks=all). Refused deliveries\n"
            "get a 4xx problem document and go to the dead-letter topic with the reason.\n"
            "When Kafka cannot take an event within the publish deadline the answer is 503\n"
            "with Retry-After, unless a spool directory is set: then the event is fsynced\n"
            "there, acknowledged, and drained to Kafka in order when it is back.\n\n"
            "Also serves GET /healthz, /readyz (Kafka reachable) and /metrics (Prometheus).\n"
            "SIGINT/SIGTERM: stop accepting, finish in-flight deliveries, flush, exit.\n\n"
            "Settings (environment; flags override):\n"
            "  WXCC_INGRESS_SECRETS              subId=secret1|secret2,otherSub=secret\n"
            "  WXCC_INGRESS_VERIFY_SIGNATURES    true (false only for local experiments)\n"
            "  WXCC_INGRESS_ALLOWED_ORGS         comma-separated org ids (empty: any)\n"
            "  WXCC_INGRESS_ALLOWED_SUBSCRIPTIONS comma-separated ids (empty: any)\n"
            "  WXCC_INGRESS_TIMESTAMP_TOLERANCE_MS  v2 replay window (default 300000)\n"
            "  WXCC_INGRESS_PUBLISH_DEADLINE_MS  Kafka deadline before 503 (default 2000)\n"
            "  WXCC_INGRESS_MAX_BODY_BYTES       413 above this (default 1048576)\n"
            "  WXCC_INGRESS_SPOOL_DIR            durable spool directory, one per process (none)\n"
            "  WXCC_INGRESS_COMPRESSION          lz4, zstd, snappy, gzip or none (default lz4)\n"
            "  WXCC_INGRESS_LINGER_MS            producer wait for a fuller batch (default 0)\n"
            "  WXCC_INGRESS_PUBLISHER            Kafka client: aiokafka (default) or confluent\n"
            "  WXCC_KAFKA_BOOTSTRAP, WXCC_TOPIC_PREFIX, WXCC_TOPIC_PARTITIONS"
        ),
    )
    parser.add_argument("--host", help="listen address (env WXCC_INGRESS_HOST, default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help="listen port (env WXCC_INGRESS_PORT, default 8080)"
    )
    parser.add_argument(
        "--path", help="webhook path (env WXCC_INGRESS_PATH, default /webhooks/wxcc)"
    )
    add_bootstrap(parser)
    parser.add_argument(
        "--spool-dir", help="enable the durable spool in this directory (one process each)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="ingress processes sharing the port (SO_REUSEPORT), one core each; with a spool, "
        "process i spools to <spool dir>/process-i (default 1)",
    )
    parser.set_defaults(handler=run)


def settings_from(args: argparse.Namespace, settings: Settings) -> Settings:
    """Settings with the flags applied."""
    changes = {
        key: value
        for key, value in (
            ("host", args.host),
            ("port", args.port),
            ("path", args.path),
            ("spool_dir", args.spool_dir),
        )
        if value is not None
    }
    if args.path is not None and not args.path.startswith("/"):
        raise SettingsError(f"--path must start with '/', got {args.path!r}")
    if args.port is not None and not 0 < args.port < 65536:
        raise SettingsError(f"--port {args.port} is not a TCP port (1-65535)")
    kafka = kafka_with(settings.kafka, args.bootstrap)
    return with_overrides(
        settings, ingress=with_overrides(settings.ingress, **changes), kafka=kafka
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start the ingress and serve until interrupted."""
    from wxcc_stream.ingress.logs import configure_logging
    from wxcc_stream.ingress.main import run_ingress
    from wxcc_stream.ingress.processes import run_processes

    settings = settings_from(args, settings)
    if args.processes < 1:
        raise SettingsError(f"--processes must be 1 or more, got {args.processes}")
    configure_logging(args.log_level or settings.log_level)
    if args.processes == 1:
        return run_ingress(settings)
    return run_processes(settings, args.processes)

"""`wxcc-stream api`: the query API and the live supervisor wallboard."""

from __future__ import annotations

import argparse
from typing import Any

from wxcc_stream.base.settings import Settings, SettingsError, with_overrides
from wxcc_stream.commands.options import add_bootstrap, kafka_with


def register(subparsers: Any) -> None:
    """Add the `api` subcommand."""
    parser = subparsers.add_parser(
        "api",
        help="serve the query API and the live wallboard over the projection topics",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Read both compacted projection topics from the beginning, then live, into memory\n"
            "(no consumer group: run as many replicas as you like), and serve, read-only:\n"
            "  GET /agents/{agentId}, /tasks/{taskId}      one document\n"
            "  GET /agents?team=&state=&loggedIn=          lists with a stable cursor (?cursor=)\n"
            "  GET /tasks?queue=&status=&channel=&createdFrom=&createdTo=&endedFrom=&endedTo=\n"
            "  GET /aggregates?team=&queue=&from=&to=     per team, per queue, since midnight\n"
            "  GET /stream?kind=&team=&queue=              changes as Server-Sent Events\n"
            "  GET /wallboard                              the supervisor's wall screen\n"
            "  GET /openapi.json, /healthz, /readyz, /metrics\n"
            "/readyz answers 200 once the view reached where the topics ended at start.\n"
            "Every data request needs 'Authorization: Bearer <token>' (401 without, 403 for a\n"
            "token scoped to other teams or queues). docs/api.md defines every figure.\n\n"
            "Settings (environment; flags override):\n"
            "  WXCC_API_TOKENS            token=* or token=team:ID|queue:ID, comma-separated\n"
            "  WXCC_API_ORG_TIMEZONE      IANA zone whose midnight starts 'today' (UTC)\n"
            "  WXCC_API_SERVICE_LEVEL_MS  answered within this counts for the service level\n"
            "                             (default 20000)\n"
            "  WXCC_API_CORS_ORIGINS      origins allowed cross-origin reads (default: none)\n"
            "  WXCC_API_CHANGE_LOG_SIZE   changes kept for Last-Event-ID resume (20000)\n"
            "  WXCC_API_STALE_AFTER_MS    wallboard turns red after this long without news\n"
            "  WXCC_KAFKA_BOOTSTRAP, WXCC_TOPIC_PREFIX"
        ),
    )
    parser.add_argument("--host", help="listen address (env WXCC_API_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (env WXCC_API_PORT, default 8081)")
    add_bootstrap(parser)
    parser.set_defaults(handler=run)


def settings_from(args: argparse.Namespace, settings: Settings) -> Settings:
    """Settings with the flags applied."""
    changes = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if args.port is not None and not 0 < args.port < 65536:
        raise SettingsError(f"--port {args.port} is not a TCP port (1-65535)")
    kafka = kafka_with(settings.kafka, args.bootstrap)
    return with_overrides(settings, api=with_overrides(settings.api, **changes), kafka=kafka)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start the API and serve until interrupted."""
    from wxcc_stream.api.auth import parse_tokens
    from wxcc_stream.api.main import run_api

    settings = settings_from(args, settings)
    parse_tokens(settings.api.tokens)  # a bad token list stops here, naming the entry
    return run_api(settings)

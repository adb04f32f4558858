"""`wxcc-stream simulate-api`: serve the WxCC reconciliation APIs for a generated day."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.scenario import ScenarioConfig, ScenarioError, generate
from wxcc_stream.devtools.simulator.errors import SimulatorError
from wxcc_stream.devtools.simulator.options import parse_duration_ms, parse_fraction
from wxcc_stream.devtools.wxcc_api import (
    ApiSimConfig,
    ApiSimulatorError,
    FaultSettings,
    TokenSettings,
    build_app,
    serve,
)
from wxcc_stream.devtools.wxcc_api.tokens import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

DEFAULT_PORT = 8471


def register(subparsers: Any) -> None:
    """Add the `simulate-api` subcommand."""
    parser = subparsers.add_parser(
        "simulate-api",
        help="serve the WxCC reconciliation APIs (tokens, activities, Search, captures) "
        "for a generated contact-center day",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Generate the same reproducible day `wxcc-stream simulate` sends as webhooks\n"
            "(same --seed and sizes) and serve the API's view of it on 127.0.0.1:\n"
            "  POST /v1/access_token       client_credentials or refresh_token (form);\n"
            "                              refresh tokens are single-use (rotated)\n"
            "  GET  /v1/agents/activities  from (required), to (to - from < 24 h), page,\n"
            "                              pageSize <= 1000; at most 10,000 rows a window\n"
            "  POST /search                GraphQL taskDetails(from, to, timeComparator,\n"
            "                              filter, pagination {cursor}) with pageInfo\n"
            "  POST /v1/captures/query     {query: {taskIds (<= 10), urlExpiration}}\n"
            "Data requests need `Authorization: Bearer <access_token>`. Faults are shares\n"
            "of data requests (0..1 or a percentage): --too-many answers 429 with\n"
            "Retry-After, --server-errors 503, --slow waits --slow-ms first, --expire-tokens\n"
            "makes the caller's token expire there (401). Over --rate-limit requests a\n"
            "minute the answer is 429 too, and asking again before Retry-After gets another.\n"
            "--now sets the API's clock as an offset from the day's start (records still\n"
            "going show endTime -1); by default the day is over and every record final.\n"
            "Runs until interrupted (Ctrl-C)."
        ),
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    g = parser.add_argument_group("scenario (as for `simulate`)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--agents", type=int, default=10, help="agents (default 10)")
    g.add_argument("--teams", type=int, default=2, help="teams (default 2)")
    g.add_argument("--queues", type=int, default=3, help="queues (default 3)")
    g.add_argument("--duration", default="1h", help="simulated time, e.g. 30m, 8h (default 1h)")
    g.add_argument("--tasks", type=int, default=None, help="exact number of tasks")
    g.add_argument("--now", default=None, help="API clock as an offset from the start, e.g. 30m")
    a = parser.add_argument_group("auth")
    a.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="OAuth client id")
    a.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET, help="client secret")
    a.add_argument("--token-lifetime", type=float, default=3600.0, help="seconds (default 3600)")
    a.add_argument(
        "--refresh-lifetime", type=float, default=86400.0, help="seconds (default 86400)"
    )
    f = parser.add_argument_group("faults")
    f.add_argument("--too-many", default="0", help="share answered 429 (e.g. 0.3 or 30%%)")
    f.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds (default 1)")
    f.add_argument("--server-errors", default="0", help="share answered 503")
    f.add_argument("--slow", default="0", help="share answered slowly")
    f.add_argument("--slow-ms", type=int, default=2000, help="delay of a slow answer (ms)")
    f.add_argument("--expire-tokens", default="0", help="share that expires the caller's token")
    f.add_argument(
        "--rate-limit",
        type=int,
        default=300,
        help="data requests a minute before 429 (default 300, the vendor's; 0: none)",
    )
    f.add_argument("--fault-seed", type=int, default=0, help="seed of the fault draws")
    parser.set_defaults(handler=run)


def _config(args: argparse.Namespace) -> tuple[ScenarioConfig, ApiSimConfig]:
    scenario = ScenarioConfig(
        seed=args.seed,
        agents=args.agents,
        teams=args.teams,
        queues=args.queues,
        duration_ms=parse_duration_ms(args.duration),
        tasks=args.tasks,
    )
    faults = FaultSettings(
        seed=args.fault_seed,
        too_many_share=parse_fraction(args.too_many, "--too-many"),
        retry_after_s=args.retry_after,
        server_error_share=parse_fraction(args.server_errors, "--server-errors"),
        slow_share=parse_fraction(args.slow, "--slow"),
        slow_ms=args.slow_ms,
        expire_token_share=parse_fraction(args.expire_tokens, "--expire-tokens"),
    )
    tokens = TokenSettings(
        client_id=args.client_id,
        client_secret=args.client_secret,
        access_lifetime_s=args.token_lifetime,
        refresh_lifetime_s=args.refresh_lifetime,
    )
    now = None if args.now is None else scenario.start_ms + parse_duration_ms(args.now)
    if args.rate_limit < 0:
        raise ApiSimulatorError("--rate-limit must be 0 (none) or more")
    config = ApiSimConfig(
        tokens=tokens, faults=faults, now_ms=now, rate_limit_per_minute=args.rate_limit or None
    )
    return scenario, config


async def _serve(scenario: ScenarioConfig, config: ApiSimConfig, port: int) -> None:
    app = build_app(generate(scenario), config)
    async with serve(app, port) as base_url:
        print(f"WxCC API simulator on {base_url} (org {scenario.org_id})", flush=True)
        print(f"  client id {config.tokens.client_id}; Ctrl-C to stop", flush=True)
        await asyncio.Event().wait()


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Generate the day and serve it until interrupted."""
    del settings  # the simulator is configured by its flags only
    try:
        scenario, config = _config(args)
    except (SimulatorError, ScenarioError, ApiSimulatorError) as exc:
        print(f"wxcc-stream simulate-api: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(scenario, config, args.port))
    except OSError as exc:
        print(f"wxcc-stream simulate-api: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0

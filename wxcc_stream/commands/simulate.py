"""`wxcc-stream simulate`: generate a contact-center day and send it as WxCC webhooks."""

from __future__ import annotations

import argparse
import asyncio
import sys
from time import time_ns
from typing import Any

from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.scenario import (
    DEFAULT_START_MS,
    DEFAULT_SUBSCRIPTION_ID,
    DamageConfig,
    ScenarioConfig,
    ScenarioError,
    damage,
    generate,
    summarize,
)
from wxcc_stream.devtools.simulator import (
    Progress,
    SendConfig,
    SigningKeys,
    SimulatorError,
    check_target,
    send_events,
)
from wxcc_stream.devtools.simulator.options import (
    parse_duration_ms,
    parse_fraction,
    parse_start_ms,
)
from wxcc_stream.schemas.signing import parse_secrets


def register(subparsers: Any) -> None:
    """Add the `simulate` subcommand."""
    parser = subparsers.add_parser(
        "simulate",
        help="send a generated contact-center day to an ingress as signed WxCC webhooks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Generate a reproducible contact-center day (agents, teams, queues; --seed), damage\n"
            "its delivery the way WxCC's webhooks are damaged (--shuffle-window reorders events\n"
            "closer than the window, --duplicates / --drop / --late are fractions of events),\n"
            "and POST each event to --target, signed with X-WebexCC-Signature (the secret of\n"
            "the event's subscription from WXCC_INGRESS_SECRETS, or --secret). v2 events\n"
            "(with comciscotimestamp) carry the v2 headers and are re-stamped with the send\n"
            "time unless --keep-timestamps. Events go out in arrival order at --rate events/s\n"
            "(0: as fast as possible) with at most --concurrency in flight; a progress bar goes\n"
            "to stderr and a summary (sent, accepted, rejected by status) to stdout.\n\n"
            "Without --target, print what would be sent and exit. Targets must be loopback\n"
            "addresses unless --allow-remote is given.\n\n"
            "Exit code: 0 when every request was answered 2xx, 1 otherwise."
        ),
    )
    parser.add_argument("--target", help="ingress URL, e.g. http://127.0.0.1:8080/webhooks/wxcc")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback target")
    g = parser.add_argument_group("scenario")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--agents", type=int, default=10, help="agents (default 10)")
    g.add_argument("--teams", type=int, default=2, help="teams (default 2)")
    g.add_argument("--queues", type=int, default=3, help="queues (default 3)")
    g.add_argument("--duration", default="1h", help="simulated time, e.g. 30m, 8h (default 1h)")
    g.add_argument("--tasks", type=int, default=None, help="exact number of tasks")
    g.add_argument(
        "--start",
        default=None,
        help="when the simulated day starts: now, now-30m (the day ends as sending starts), "
        "an ISO time such as 2024-03-04T08:00:00Z, or epoch ms (default 2024-03-04T08:00:00Z, "
        "so that a seed always gives the same day)",
    )
    g.add_argument(
        "--channel-state-changes",
        default="0",
        metavar="FRACTION",
        help="fraction of agent state changes sent as the v2 agent:channel_state_change "
        "(default 0: all agent:state_change)",
    )
    g.add_argument(
        "--subscription",
        help="subscription id in `source` (default: the first of WXCC_INGRESS_SECRETS, "
        f"else {DEFAULT_SUBSCRIPTION_ID})",
    )
    d = parser.add_argument_group("damage")
    d.add_argument("--shuffle-window", default="0s", help="reorder window, e.g. 5s (default 0s)")
    d.add_argument("--duplicates", default="0", help="fraction delivered twice, e.g. 0.05 or 5%%")
    d.add_argument("--drop", default="0", help="fraction never delivered")
    d.add_argument("--late", default="0", help="fraction delivered 10 minutes late")
    d.add_argument(
        "--twins",
        default="0",
        help="fraction also sent as a second subscription would: a new id, from subscription "
        "<subscription>-resent (give the ingress a secret for it too)",
    )
    d.add_argument(
        "--conflicts", default="0", help="fraction also sent with the same id, another payload"
    )
    d.add_argument("--damage-seed", type=int, default=None, help="default: --seed")
    s = parser.add_argument_group("sending")
    s.add_argument("--rate", type=float, default=0.0, help="events/s (0: as fast as possible)")
    s.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    s.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    s.add_argument("--secret", help="sign every event with this secret (default: per subscription)")
    s.add_argument(
        "--keep-timestamps",
        action="store_true",
        help="send comciscotimestamp as generated (the ingress may refuse old ones)",
    )
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def _keys(args: argparse.Namespace, settings: Settings) -> tuple[SigningKeys, str | None]:
    secrets = parse_secrets(settings.ingress.secrets)
    first_sub = next(iter(secrets), None)
    keys = SigningKeys(
        by_subscription={sub: values[0] for sub, values in secrets.items()},
        fallback=args.secret.encode() if args.secret else None,
    )
    return keys, first_sub


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Generate, damage, and send (or describe) the scenario."""
    try:
        keys, first_sub = _keys(args, settings)
        if args.rate < 0 or args.concurrency < 1:
            raise SimulatorError("--rate must be >= 0 and --concurrency >= 1")
        target = check_target(args.target, allow_remote=args.allow_remote) if args.target else None
        config = ScenarioConfig(
            seed=args.seed,
            agents=args.agents,
            teams=args.teams,
            queues=args.queues,
            duration_ms=parse_duration_ms(args.duration),
            start_ms=(
                parse_start_ms(args.start, now_ms=time_ns() // 1_000_000)
                if args.start
                else DEFAULT_START_MS
            ),
            tasks=args.tasks,
            channel_state_fraction=parse_fraction(
                args.channel_state_changes, "--channel-state-changes"
            ),
            subscription_id=args.subscription or first_sub or DEFAULT_SUBSCRIPTION_ID,
        )
        harm = DamageConfig(
            seed=args.seed if args.damage_seed is None else args.damage_seed,
            shuffle_window_ms=parse_duration_ms(args.shuffle_window),
            duplicate_fraction=parse_fraction(args.duplicates, "--duplicates"),
            drop_fraction=parse_fraction(args.drop, "--drop"),
            late_fraction=parse_fraction(args.late, "--late"),
            twin_fraction=parse_fraction(args.twins, "--twins"),
            conflict_fraction=parse_fraction(args.conflicts, "--conflicts"),
        )
        scenario = generate(config)
        delivery = damage(scenario.events, harm)
    except (SimulatorError, ScenarioError) as exc:
        print(f"wxcc-stream simulate: {exc}", file=sys.stderr)
        return 2
    events = [event for _, event in delivery.deliveries]
    print(f"scenario (seed {config.seed}, subscription {config.subscription_id}):")
    print("\n".join("  " + line for line in summarize(scenario.events).lines()))
    print(
        f"delivery: {len(events)} requests ({len(delivery.duplicated)} duplicated, "
        f"{len(delivery.dropped)} dropped, {len(delivery.late)} late, "
        f"{len(delivery.twinned)} twins, {len(delivery.conflicted)} conflicts)"
    )
    if target is None:
        return 0
    if keys.for_source(config.source) is None:
        print(
            f"wxcc-stream simulate: warning: no secret for subscription {config.subscription_id}"
            " (WXCC_INGRESS_SECRETS or --secret): requests go out unsigned",
            file=sys.stderr,
        )
    send = SendConfig(
        target=target,
        rate=args.rate or None,
        concurrency=args.concurrency,
        timeout_s=args.timeout,
        restamp=not args.keep_timestamps,
    )
    progress = Progress(len(events), enabled=not args.no_progress)
    summary = asyncio.run(send_events(events, send, keys, progress=progress))
    print("\n".join(summary.lines()), flush=True)
    return 0 if summary.accepted == summary.sent else 1

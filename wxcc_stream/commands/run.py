"""`wxcc-stream run`: the whole system on one machine, for development and demos."""

from __future__ import annotations

import argparse
import secrets
import signal
import time
from typing import Any

from wxcc_stream.base.settings import Settings
from wxcc_stream.commands.broker import broker_from
from wxcc_stream.devtools.broker import BrokerError, JarsError
from wxcc_stream.supervisor import Service, Supervisor, child_env, interrupt_on_sigterm


def register(subparsers: Any) -> None:
    """Add the `run` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run broker, ingress, worker and the API/wallboard on this machine (Ctrl-C stops all)",
        description=(
            "Start a local Kafka broker (real Apache Kafka from its jars), the webhook ingress, "
            "the stream worker and the query API with its wallboard (URL and token printed), "
            "all on 127.0.0.1, and the PostgreSQL sink when WXCC_SINK_DSN names a database; "
            "with --simulate, also send generated WxCC "
            "traffic (signed, shuffled, duplicated) to the ingress. Ctrl-C stops everything."
        ),
    )
    parser.add_argument(
        "--simulate", action="store_true", help="send simulated WxCC webhook traffic"
    )
    parser.add_argument("--agents", type=int, default=20, help="simulated agents (default 20)")
    parser.add_argument(
        "--sim-duration", default="30m", help="simulated contact-center time (default 30m)"
    )
    parser.add_argument("--rate", type=float, default=200.0, help="events/s sent (default 200)")
    parser.add_argument(
        "--for-seconds",
        type=float,
        default=None,
        help="stop everything after this many seconds (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--until-simulated",
        action="store_true",
        help="stop once the simulator has sent everything (and the worker had time to fold it)",
    )
    parser.set_defaults(handler=run)


def _api_token(settings: Settings, env: dict[str, str]) -> str | None:
    """A fresh development token for the API when none is configured (printed once)."""
    if settings.api.tokens:
        return None
    token = secrets.token_urlsafe(18)
    env["WXCC_API_TOKENS"] = f"{token}=*"
    return token


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start everything, then supervise until Ctrl-C, a failure or the requested end."""
    signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    try:
        broker = broker_from(settings)
        print("[run] starting Kafka broker ...", flush=True)
        broker.start(timeout_s=settings.broker.start_timeout_s)
    except (BrokerError, JarsError) as exc:
        print(f"wxcc-stream run: {exc}")
        return 1
    print(f"[run] broker ready on {broker.bootstrap} (log {broker.server_log})", flush=True)
    env = child_env({"WXCC_KAFKA_BOOTSTRAP": broker.bootstrap})
    if args.simulate and not settings.ingress.secrets:
        # the simulator signs with the same development secret the ingress checks
        env["WXCC_INGRESS_SECRETS"] = "wxcc-stream-dev=local-development-secret-0123456789"
    token = _api_token(settings, env)
    supervisor = Supervisor(env)
    code = 0
    try:
        supervisor.start(Service("ingress", ("ingress",)))
        supervisor.start(Service("worker", ("worker",)))
        supervisor.start(Service("api", ("api",)))
        if settings.sink.dsn:
            # only when a database is named (WXCC_SINK_DSN): the PostgreSQL sink
            supervisor.start(Service("sink", ("sink", "postgres")))
            sink = settings.sink
            print(f"[run] PostgreSQL sink: http://{sink.host}:{sink.port}/readyz", flush=True)
        api = settings.api
        print(
            f"[run] wallboard: http://{api.host}:{api.port}/wallboard"
            + (f"  (token: {token})" if token else "  (token: one of WXCC_API_TOKENS)"),
            flush=True,
        )
        stop_when: tuple[str, ...] = ()
        if args.simulate:
            time.sleep(3.0)  # let ingress bind its port before traffic starts
            ing = settings.ingress
            target = f"http://{ing.host}:{ing.port}{ing.path}"
            supervisor.start(Service(
                "simulator",
                ("simulate", "--target", target, "--agents", str(args.agents),
                 "--duration", args.sim_duration, "--rate", str(args.rate),
                 "--shuffle-window", "5s", "--duplicates", "0.05", "--no-progress"),
                one_shot=True,
            ))  # fmt: skip
            if args.until_simulated:
                stop_when = ("simulator",)
        until = time.monotonic() + args.for_seconds if args.for_seconds else None
        code = supervisor.watch(until=until, stop_when_done=stop_when)
        if stop_when and code == 0:
            time.sleep((settings.worker.grace_ms + settings.worker.flush_timeout_ms) / 1000 + 3)
    except KeyboardInterrupt:
        print("\n[run] Ctrl-C: stopping", flush=True)
    finally:
        supervisor.stop_all()
        broker.stop()
        print("[run] all stopped", flush=True)
    return code

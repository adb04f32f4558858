"""`wxcc-stream run`: the whole system on one machine, for development and demos."""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from wxcc_stream.base.settings import Settings
from wxcc_stream.commands.broker import broker_from
from wxcc_stream.devtools.broker import BrokerError, JarsError
from wxcc_stream.status_line import format_status, status_from
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
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the services' own logs here instead of the one-line live status",
    )
    parser.add_argument(
        "--log-dir",
        default="var/logs",
        help="where the services' logs go when not --verbose: <name>.log of the latest run "
        "(default var/logs)",
    )
    parser.add_argument(
        "--status-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how often the status line is refreshed (default 2 on a terminal, else 15)",
    )
    parser.set_defaults(handler=run)


def _scrape(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as response:
            return str(response.read().decode("utf-8", "replace"))
    except (urllib.error.URLError, OSError, ValueError):
        return None  # not up yet, or busy: the line shows a dash


class _StatusLine:
    """Prints the live status line: rewritten in place on a terminal, a line at a time in a file."""

    def __init__(self, settings: Settings, every_s: float | None) -> None:
        ing, api, worker = settings.ingress, settings.api, settings.worker
        self._urls = (
            f"http://{ing.host}:{ing.port}/metrics",
            f"http://127.0.0.1:{worker.web_port}/metrics",
            f"http://{api.host}:{api.port}/metrics",
        )
        self._tty = sys.stdout.isatty()
        self._every = every_s or (2.0 if self._tty else 15.0)
        self._started = time.monotonic()
        self._next = self._started + self._every
        self.shown = False

    def tick(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._every
        status = status_from(*(_scrape(url) for url in self._urls))
        line = format_status(status, now - self._started)
        print(f"\r{line}\033[K" if self._tty else line, end="" if self._tty else "\n",
              flush=True)  # fmt: skip
        self.shown = True

    def end(self) -> None:
        if self.shown and self._tty:
            print(flush=True)


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
    supervisor = Supervisor(env, log_dir=None if args.verbose else Path(args.log_dir).resolve())
    status = None if args.verbose else _StatusLine(settings, args.status_every)
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
                 "--start", f"now-{args.sim_duration}",
                 "--shuffle-window", "5s", "--duplicates", "0.05", "--no-progress"),
                one_shot=True,
            ))  # fmt: skip
            if args.until_simulated:
                stop_when = ("simulator",)
        until = time.monotonic() + args.for_seconds if args.for_seconds else None
        if status is not None:
            print(f"[run] services' logs: {args.log_dir}/ (--verbose shows them here)", flush=True)
        code = supervisor.watch(
            until=until, stop_when_done=stop_when, on_tick=status.tick if status else None
        )
        if stop_when and code == 0:
            time.sleep((settings.worker.grace_ms + settings.worker.flush_timeout_ms) / 1000 + 3)
    except KeyboardInterrupt:
        print("\n[run] Ctrl-C: stopping", flush=True)
    finally:
        if status is not None:
            status.end()
        supervisor.stop_all()
        broker.stop()
        print("[run] all stopped", flush=True)
    return code

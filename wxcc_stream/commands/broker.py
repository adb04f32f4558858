"""`wxcc-stream broker`: run a real single-node Kafka broker on this machine."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.broker import (
    KAFKA_VERSION,
    BrokerConfig,
    BrokerError,
    JarsError,
    LocalBroker,
    ensure_jars,
)
from wxcc_stream.devtools.broker.jars import default_jars_dir
from wxcc_stream.supervisor import interrupt_on_sigterm


def register(subparsers: Any) -> None:
    """Add the `broker` subcommand."""
    parser = subparsers.add_parser(
        "broker",
        help="run a local single-node Apache Kafka broker (KRaft) until Ctrl-C",
        description=(
            f"Fetch the official Apache Kafka {KAFKA_VERSION} jars from Maven Central with mvn "
            "(once; cached), format KRaft storage, start a broker+controller on loopback, wait "
            "until it answers, and stop it cleanly on Ctrl-C or SIGTERM."
        ),
    )
    parser.add_argument("--host", help="listen address (env WXCC_BROKER_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="client port (env WXCC_BROKER_PORT, default 9092)")
    parser.add_argument("--controller-port", type=int, help="KRaft controller port (default 9093)")
    parser.add_argument("--data-dir", help="where data and logs go (default var/broker)")
    parser.add_argument("--jars-dir", help=f"jar cache (default {default_jars_dir()})")
    parser.add_argument("--heap-mb", type=int, help="JVM heap in MiB (default 512)")
    parser.add_argument(
        "--fetch-only", action="store_true", help="only fetch the jars, then exit (for set-up)"
    )
    parser.set_defaults(handler=run)


def broker_from(settings: Settings, args: argparse.Namespace | None = None) -> LocalBroker:
    """Build the broker from settings overridden by flags; fetches the jars if needed."""
    s = settings.broker
    flags = vars(args) if args is not None else {}

    def pick(name: str) -> Any:
        return flags.get(name) or getattr(s, name)

    jars_dir = pick("jars_dir")
    jars = ensure_jars(Path(jars_dir) if jars_dir else None)
    cfg = BrokerConfig(
        host=pick("host"),
        port=pick("port"),
        controller_port=pick("controller_port"),
        data_dir=Path(pick("data_dir")).resolve(),
        heap_mb=pick("heap_mb"),
    )
    return LocalBroker(cfg, jars)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start the broker and keep it running until interrupted."""
    try:
        if args.fetch_only:
            jars_dir = args.jars_dir or settings.broker.jars_dir
            print(f"Kafka jars ready in {ensure_jars(Path(jars_dir) if jars_dir else None)}")
            return 0
        broker = broker_from(settings, args)
        started = time.monotonic()
        print(f"starting Apache Kafka {KAFKA_VERSION} (KRaft, single node) ...", flush=True)
        broker.start(timeout_s=settings.broker.start_timeout_s)
    except (BrokerError, JarsError) as exc:
        print(f"wxcc-stream broker: {exc}", file=sys.stderr)
        return 1
    print(
        f"broker ready on {broker.bootstrap} after {time.monotonic() - started:.1f} s\n"
        f"  data: {broker.config.kraft_dir}\n  log:  {broker.server_log}\n"
        "Ctrl-C stops it.",
        flush=True,
    )
    signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    try:
        code = broker.wait()
        print(f"broker exited by itself with code {code}; see {broker.server_log}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping broker ...", flush=True)
        broker.stop()
        print("broker stopped", flush=True)
        return 0

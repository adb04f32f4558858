"""`wxcc-stream broker`: run a real Kafka broker (or a local cluster) on this machine."""

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
    LocalCluster,
    cluster_configs,
    ensure_jars,
    node_ports,
)
from wxcc_stream.devtools.broker.jars import default_jars_dir
from wxcc_stream.supervisor import interrupt_on_sigterm


def register(subparsers: Any) -> None:
    """Add the `broker` subcommand."""
    parser = subparsers.add_parser(
        "broker",
        help="run a local Apache Kafka broker (KRaft), or a cluster with --nodes 3, until Ctrl-C",
        description=(
            f"Fetch the official Apache Kafka {KAFKA_VERSION} jars from Maven Central with mvn "
            "(once; cached), format KRaft storage, start a broker+controller on loopback, wait "
            "until it answers, and stop it cleanly on Ctrl-C or SIGTERM. With --nodes 3: a "
            "cluster of three such nodes (one quorum; node i on port + 2(i-1) and controller "
            "port + 2(i-1), its files in <data-dir>/node-i), topics with 3 replicas and "
            "min.insync.replicas 2, as in production."
        ),
    )
    parser.add_argument("--host", help="listen address (env WXCC_BROKER_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="client port (env WXCC_BROKER_PORT, default 9092)")
    parser.add_argument("--controller-port", type=int, help="KRaft controller port (default 9093)")
    parser.add_argument("--data-dir", help="where data and logs go (default var/broker)")
    parser.add_argument("--jars-dir", help=f"jar cache (default {default_jars_dir()})")
    parser.add_argument("--heap-mb", type=int, help="JVM heap per node in MiB (default 512)")
    parser.add_argument(
        "--nodes", type=int, help="nodes: 1, or 3 for a local cluster (env WXCC_BROKER_NODES)"
    )
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


def cluster_from(settings: Settings, args: argparse.Namespace) -> LocalCluster:
    """A local cluster of `--nodes` nodes from settings overridden by flags."""
    s = settings.broker
    flags = vars(args)

    def pick(name: str) -> Any:
        return flags.get(name) or getattr(s, name)

    jars_dir = pick("jars_dir")
    jars = ensure_jars(Path(jars_dir) if jars_dir else None)
    ports = node_ports(pick("port"), pick("controller_port"), pick("nodes"))
    data_dir = Path(pick("data_dir")).resolve()
    return LocalCluster(cluster_configs(pick("host"), ports, data_dir, pick("heap_mb")), jars)


def _run_cluster(args: argparse.Namespace, settings: Settings) -> int:
    # Ctrl-C is handled from the first line on: a test (or a person) that presses it as soon
    # as "Ctrl-C stops it" appears must get the clean stop, not a silent exit 130
    signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    cluster: LocalCluster | None = None
    try:
        cluster = cluster_from(settings, args)
        started = time.monotonic()
        print(f"starting Apache Kafka {KAFKA_VERSION} (KRaft, {len(cluster.nodes)} nodes) ...",
              flush=True)  # fmt: skip
        cluster.start(timeout_s=settings.broker.start_timeout_s)
        print(f"cluster ready on {cluster.bootstrap} after {time.monotonic() - started:.1f} s")
        for node_id, node in cluster.nodes.items():
            print(f"  node {node_id}: {node.bootstrap}  data: {node.config.kraft_dir}  "
                  f"log: {node.server_log}")  # fmt: skip
        print("Ctrl-C stops it.", flush=True)
        while len(cluster.running()) == len(cluster.nodes):
            time.sleep(0.5)
        gone = sorted(set(cluster.nodes) - set(cluster.running()))
        print(f"node(s) {gone} exited by themselves; stopping the rest", file=sys.stderr)
        cluster.stop()
        return 1
    except (BrokerError, JarsError) as exc:
        print(f"wxcc-stream broker: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping cluster ...", flush=True)
        if cluster is not None:
            cluster.stop()  # start() already killed the nodes if it was interrupted
        print("cluster stopped", flush=True)
        return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start the broker and keep it running until interrupted."""
    if args.fetch_only:
        jars_dir = args.jars_dir or settings.broker.jars_dir
        try:
            print(f"Kafka jars ready in {ensure_jars(Path(jars_dir) if jars_dir else None)}")
        except JarsError as exc:
            print(f"wxcc-stream broker: {exc}", file=sys.stderr)
            return 1
        return 0
    if (args.nodes or settings.broker.nodes) > 1:
        return _run_cluster(args, settings)
    signal.signal(signal.SIGTERM, interrupt_on_sigterm)  # before any output: see _run_cluster
    broker: LocalBroker | None = None
    try:
        broker = broker_from(settings, args)
        started = time.monotonic()
        print(f"starting Apache Kafka {KAFKA_VERSION} (KRaft, single node) ...", flush=True)
        broker.start(timeout_s=settings.broker.start_timeout_s)
        print(
            f"broker ready on {broker.bootstrap} after {time.monotonic() - started:.1f} s\n"
            f"  data: {broker.config.kraft_dir}\n  log:  {broker.server_log}\n"
            "Ctrl-C stops it.",
            flush=True,
        )
        code = broker.wait()
        print(f"broker exited by itself with code {code}; see {broker.server_log}", file=sys.stderr)
        return 1
    except (BrokerError, JarsError) as exc:
        print(f"wxcc-stream broker: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping broker ...", flush=True)
        if broker is not None:
            broker.stop()
        print("broker stopped", flush=True)
        return 0

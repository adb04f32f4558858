"""The `wxcc-stream` command: parses arguments, loads settings, hands over to a subcommand."""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Sequence

from wxcc_stream import __version__
from wxcc_stream.base.settings import SettingsError, load_settings

# Each module registers one subcommand; adding a command is adding a line here.
COMMAND_MODULES = (
    "wxcc_stream.commands.api",
    "wxcc_stream.commands.backfill",
    "wxcc_stream.commands.broker",
    "wxcc_stream.commands.generations",
    "wxcc_stream.commands.ingress",
    "wxcc_stream.commands.reconcile",
    "wxcc_stream.commands.replay",
    "wxcc_stream.commands.run",
    "wxcc_stream.commands.simulate",
    "wxcc_stream.commands.simulate_api",
    "wxcc_stream.commands.sink",
    "wxcc_stream.commands.topics",
    "wxcc_stream.commands.worker",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="wxcc-stream",
        description=(
            "Turn Webex Contact Center webhooks (lossy, unordered, duplicated) into correct "
            "per-agent and per-task state on Kafka. Settings come from WXCC_* environment "
            "variables (and the TOML file named by WXCC_CONFIG); flags override them."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR (env WXCC_LOG_LEVEL)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    # Ctrl-C (SIGINT) stops every command, even one started from a script's background
    # job: such a job inherits SIGINT ignored, and Python then raises no KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"wxcc-stream: bad setting: {exc}", file=sys.stderr)
        return 2
    level = (args.log_level or settings.log_level).upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return int(args.handler(args, settings) or 0)
    except SettingsError as exc:
        print(f"wxcc-stream: bad setting: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""What the commands share: the `--bootstrap` flag, and errors told as exit codes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from wxcc_stream.base.settings import KafkaSettings, Settings, with_overrides

USAGE = 2
"""Exit code of a command refused before it started (bad flags, settings, input)."""
FAILED = 1
"""Exit code of a command that failed on the way (Kafka, the APIs): running it again helps."""

Errors = tuple[type[BaseException], ...]


def add_bootstrap(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (env WXCC_KAFKA_BOOTSTRAP)")


def kafka_with(kafka: KafkaSettings, bootstrap: str | None) -> KafkaSettings:
    """`kafka` with the `--bootstrap` flag applied (when given)."""
    return with_overrides(kafka, bootstrap=bootstrap) if bootstrap else kafka


def with_bootstrap(settings: Settings, bootstrap: str | None) -> Settings:
    """`settings` with the `--bootstrap` flag applied (when given)."""
    if not bootstrap:
        return settings
    return with_overrides(settings, kafka=kafka_with(settings.kafka, bootstrap))


def exit_code(
    command: str,
    action: Callable[[], int],
    *,
    usage: Errors = (),
    failure: Errors = (),
    failure_text: str = "Kafka failed, run it again: {exc}",
) -> int:
    """`action()`'s exit code, or: `USAGE` for a `usage` error, `FAILED` for a `failure`
    one, each told on stderr as `wxcc-stream <command>: ...`."""
    try:
        return action()
    except usage as exc:
        print(f"wxcc-stream {command}: {exc}", file=sys.stderr)
        return USAGE
    except failure as exc:
        print(f"wxcc-stream {command}: {failure_text.format(exc=exc)}", file=sys.stderr)
        return FAILED

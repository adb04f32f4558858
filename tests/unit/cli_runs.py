"""Run the `wxcc-stream` CLI as a separate process with no Kafka to reach, for the checks
that must stop a command before it would connect."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_without_kafka(
    *args: str, settings: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`wxcc-stream ARGS` with none of this environment's WXCC_ settings (but `settings`)
    and a bootstrap address nothing listens on; stdout and stderr captured as text."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXCC_")}
    env["WXCC_KAFKA_BOOTSTRAP"] = "127.0.0.1:9"
    env.update(settings or {})
    return subprocess.run(
        [sys.executable, "-m", "wxcc_stream.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

"""`wxcc-stream run` with WXCC_SINK_DSN also starts the PostgreSQL sink, which fills the
tables from what the simulated traffic made of the projections."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.sink_harness import table_documents
from wxcc_stream.devtools.broker.process import free_port

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]


def _final(tables: dict[str, dict[str, dict[str, object]]], agents: int) -> bool:
    """Every simulated agent logged out and every task ended: the shift is over."""
    found, tasks = tables["agent_state"], tables["task_lifecycle"]
    return (
        len(found) == agents
        and bool(tasks)
        and all(d["state"] == "logged-out" for d in found.values())
        and all(d["status"] == "ended" for d in tasks.values())
    )


def test_run_with_a_dsn_starts_the_sink(tmp_path: Path, postgres_dsn: str) -> None:
    sink_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXCC_")}
    env.update(
        WXCC_BROKER_PORT=str(free_port()),
        WXCC_BROKER_CONTROLLER_PORT=str(free_port()),
        WXCC_BROKER_DATA_DIR=str(tmp_path / "broker"),
        WXCC_BROKER_HEAP_MB="384",
        WXCC_INGRESS_PORT=str(free_port()),
        WXCC_API_PORT=str(free_port()),
        WXCC_WORKER_WEB_PORT=str(free_port()),
        WXCC_WORKER_DATA_DIR=str(tmp_path / "worker"),
        WXCC_WORKER_GRACE_MS="500",
        WXCC_WORKER_FLUSH_TIMEOUT_MS="500",
        WXCC_SINK_DSN=postgres_dsn,
        WXCC_SINK_PORT=str(sink_port),
    )
    with (tmp_path / "run.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wxcc_stream.cli", "run", "--simulate", "--agents", "3",
             "--sim-duration", "15m", "--log-dir", str(tmp_path / "logs")],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        tables: dict[str, dict[str, dict[str, object]]] = {}
        deadline = time.monotonic() + 300  # bounded: the simulated shift ends by itself
        while time.monotonic() < deadline and proc.poll() is None:
            tables = table_documents(postgres_dsn)
            if _final(tables, 3):
                break
            time.sleep(1.0)
        output = (tmp_path / "run.log").read_text(errors="replace")
        assert proc.poll() is None, f"run exited early:\n{output[-3000:]}"
        assert _final(tables, 3), f"{tables}\n{output[-3000:]}"
        assert f"PostgreSQL sink: http://127.0.0.1:{sink_port}/readyz" in output
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=90) == 0
        assert (tmp_path / "logs" / "sink.log").stat().st_size > 0
        # the DSN is a secret: it is not printed
        assert postgres_dsn not in (tmp_path / "run.log").read_text(errors="replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

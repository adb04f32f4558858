"""Run `wxcc-stream sink postgres` as a child process and read its tables back."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.e2e.harness import ROOT, ChildProcess, describe_difference, worker_env
from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.broker.process import free_port

TABLES = {"agent_state": "agent_id", "task_lifecycle": "task_id"}


@dataclass
class SinkProcess(ChildProcess):
    """One `python -m wxcc_stream.cli sink postgres` child; `start` again after a kill."""

    settings: Settings
    dsn: str
    log_path: Path
    batch_max_records: int = 5000
    generation_check_s: float = 1.0
    name: str = "sink"
    web_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SinkProcess:
        env = worker_env(self.settings)
        env["WXCC_SINK_DSN"] = self.dsn
        env["WXCC_SINK_PORT"] = str(self.web_port)
        env["WXCC_SINK_GROUP_ID"] = f"{self.settings.topic.prefix}-sink"
        env["WXCC_SINK_BATCH_MAX_RECORDS"] = str(self.batch_max_records)
        env["WXCC_SINK_GENERATION_CHECK_S"] = str(self.generation_check_s)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "wxcc_stream.cli", "sink", "postgres"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        return self

    def metric(self, name: str) -> float:
        """The value of an unlabelled sample of /metrics (0 when absent or down)."""
        for line in self.get("/metrics")[1].decode().splitlines():
            sample, _, value = line.rpartition(" ")
            if sample == name:
                return float(value)
        return 0.0


def table_documents(dsn: str) -> dict[str, dict[str, dict[str, Any]]]:
    """table -> key -> document (the JSONB column), checking the typed key and revision
    columns agree with the document."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    with psycopg.connect(dsn) as conn:
        for table, key in TABLES.items():
            exists = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
            if exists is None or exists[0] is None:
                out[table] = {}
                continue
            rows = conn.execute(f"SELECT {key}, revision, doc FROM {table}".encode()).fetchall()
            for k, revision, doc in rows:
                assert doc["revision"] == revision, (table, k)
            out[table] = {k: doc for k, _, doc in rows}
    return out


async def wait_for_tables(
    dsn: str,
    expected: Mapping[str, Mapping[str, Any]],
    sink: SinkProcess,
    *,
    timeout_s: float,
    hold_s: float = 2.0,
) -> None:
    """Until the tables equal `expected` (table -> key -> document) and still do `hold_s`
    later; fails with the difference and the sink's log."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    equal_since: float | None = None
    got: dict[str, dict[str, dict[str, Any]]] = {}
    while loop.time() < deadline:
        sink.assert_running()
        got = table_documents(dsn)
        if all(got[t] == expected[t] for t in expected):
            if equal_since is None:
                equal_since = loop.time()
            elif loop.time() - equal_since >= hold_s:
                return
        else:
            equal_since = None
        await asyncio.sleep(0.5)
    report = "\n".join(f"{t}: {describe_difference(got[t], want)}" for t, want in expected.items())
    raise AssertionError(f"tables differ from the ground truth:\n{report}\n{sink.log_tail()}")


def row_count(dsn: str) -> int:
    """Rows in both tables (0 before the sink created them)."""
    return sum(len(docs) for docs in table_documents(dsn).values())

"""The tests' PostgreSQL server: as `nobody` when we are root, dies with its parent, and a
killed run's directory is cleaned up by the next start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from tests.integration.test_parent_death import _listening
from wxcc_stream.devtools.postgres import LocalPostgres, remove_stale_roots

ROOT = Path(__file__).resolve().parents[2]
STARTER = """
import time
from wxcc_stream.devtools.postgres import LocalPostgres
server = LocalPostgres().start()
print(server.port, server.root, flush=True)
time.sleep(120)
"""


def test_the_server_is_not_run_as_root(postgres_server: LocalPostgres) -> None:
    with psycopg.connect(postgres_server.dsn()) as conn:
        row = conn.execute("SELECT pg_backend_pid(), inet_server_addr()::text").fetchone()
        assert row is not None
        assert row[1] == "127.0.0.1/32"
        # read while connected: the backend process ends with the connection
        with open(f"/proc/{row[0]}/status") as status:
            uid = next(line.split()[1] for line in status if line.startswith("Uid:"))
    assert int(uid) != 0


def test_a_sigkilled_parent_leaves_no_server_and_its_directory_goes_later(
    tmp_path: Path,
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", STARTER], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port_text, root_text = proc.stdout.readline().split()
        port, root = int(port_text), Path(root_text)
        assert _listening(port)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 30
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _listening(port)
        assert root.is_dir()  # nobody was left to remove it
        old = time.time() - 3600
        os.utime(root, (old, old))
        remove_stale_roots(root.parent)
        assert not root.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

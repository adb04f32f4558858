"""`wxcc-stream run`'s supervisor with real child processes: a service that exits with 75
is started again (the worker does so when another topic generation is promoted); any
other exit of a long-running service stops the rest."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from wxcc_stream.supervisor import RESTART_EXIT_CODE, Service, Supervisor

# first run: exit 75; later runs: say so and stay up
CHILD = """
import pathlib, sys, time
marker = pathlib.Path(sys.argv[1])
runs = int(marker.read_text()) + 1 if marker.exists() else 1
marker.write_text(str(runs))
print(f"run {runs}", flush=True)
if runs == 1:
    sys.exit(int(sys.argv[3]))
if sys.argv[2] == "fail":
    sys.exit(3)
time.sleep(30)
"""


def _child(marker: Path, then: str) -> Service:
    """A service whose first run exits 75; later runs `stay` up or `fail` (exit 3)."""
    return Service(marker.name, (str(marker), then, str(RESTART_EXIT_CODE)))


def _supervisor(tmp_path: Path) -> Supervisor:
    return Supervisor({}, log_dir=tmp_path / "logs", command=(sys.executable, "-c", CHILD))


def test_a_service_that_exits_75_is_started_again(tmp_path: Path) -> None:
    supervisor = _supervisor(tmp_path)
    marker = tmp_path / "runs"
    try:
        supervisor.start(_child(marker, "stay"))
        code = supervisor.watch(until=time.monotonic() + 4)
    finally:
        supervisor.stop_all(timeout_s=5)
    assert code == 0  # still running when the time was up
    assert marker.read_text() == "2"
    log = (tmp_path / "logs" / "runs.log").read_text()
    assert log.splitlines() == ["run 1", "run 2"]  # the restart appends to the log


def test_another_exit_code_after_a_restart_stops_the_rest(tmp_path: Path) -> None:
    supervisor = _supervisor(tmp_path)
    try:
        supervisor.start(_child(tmp_path / "runs", "fail"))
        supervisor.start(_child(tmp_path / "other-runs", "stay"))
        code = supervisor.watch(until=time.monotonic() + 20)
    finally:
        supervisor.stop_all(timeout_s=5)
    assert code == 1
    assert (tmp_path / "runs").read_text() == "2"

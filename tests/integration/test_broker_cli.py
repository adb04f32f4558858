"""`wxcc-stream broker` starts a broker that kcat lists, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wxcc_stream.devtools.broker.process import free_port

pytestmark = pytest.mark.broker


def _start(tmp_path: Path, port: int, controller: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "wxcc_stream.cli", "broker",
            "--port", str(port), "--controller-port", str(controller),
            "--data-dir", str(tmp_path / "broker"), "--heap-mb", "384",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _read_until(proc: subprocess.Popen[str], marker: str, timeout_s: float) -> str:
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen += line
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} not printed; output so far:\n{seen}")


def test_broker_command_runs_a_broker_kcat_can_list(tmp_path: Path, broker_jars: Path) -> None:
    kcat = shutil.which("kcat")
    assert kcat, "kcat is installed by scripts/bootstrap"
    port, controller = free_port(), free_port()
    proc = _start(tmp_path, port, controller)
    try:
        out = _read_until(proc, "Ctrl-C stops it", timeout_s=120)
        assert f"broker ready on 127.0.0.1:{port}" in out
        assert "data:" in out
        assert "log:" in out
        listing = subprocess.run(
            [kcat, "-b", f"127.0.0.1:{port}", "-L", "-m", "10"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        assert f"broker 1 at 127.0.0.1:{port}" in listing.stdout
        proc.send_signal(signal.SIGINT)
        tail = _read_until(proc, "broker stopped", timeout_s=60)
        assert "stopping broker" in tail
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_port_in_use_is_a_clear_error(tmp_path: Path, broker_jars: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _start(tmp_path, port, free_port())
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"broker port 127.0.0.1:{port} is already in use" in out

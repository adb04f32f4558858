"""Children die with their parent: a SIGKILLed `wxcc-stream broker` or `run` leaves no
Kafka JVM (or service) holding a port, and a stale broker is named with its pid and data dir.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.test_broker_cli import _read_until, _start
from wxcc_stream.devtools.broker import BrokerConfig, LocalBroker
from wxcc_stream.devtools.broker.process import free_port, listener_pid

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[2]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _freed_within(ports: list[int], timeout_s: float) -> list[int]:
    """The ports still listened on after `timeout_s` (empty: all freed)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        busy = [p for p in ports if _listening(p)]
        if not busy:
            return []
        time.sleep(0.2)
    return [p for p in ports if _listening(p)]


def test_sigkill_of_the_broker_command_frees_the_port(tmp_path: Path, broker_jars: Path) -> None:
    port, controller = free_port(), free_port()
    proc = _start(tmp_path, port, controller)
    try:
        _read_until(proc, "Ctrl-C stops it", timeout_s=120)
        jvm = listener_pid(port)
        assert jvm is not None
        assert jvm != proc.pid  # the broker is a child JVM, not the command itself
        proc.kill()
        proc.wait()
        assert _freed_within([port, controller], timeout_s=15) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigkill_of_run_leaves_no_service_or_broker_behind(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("BROKER", "BROKER_CONTROLLER", "INGRESS", "API")}
    web = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXCC_")}
    env.update({f"WXCC_{name}_PORT": str(port) for name, port in ports.items()})
    env.update(
        WXCC_WORKER_WEB_PORT=str(web),
        WXCC_BROKER_DATA_DIR=str(tmp_path / "broker"),
        WXCC_WORKER_DATA_DIR=str(tmp_path / "worker"),
        WXCC_BROKER_HEAP_MB="384",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "wxcc_stream.cli", "run", "--log-dir", str(tmp_path / "logs")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    everything = [*ports.values(), web]
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not all(_listening(p) for p in everything):
            assert proc.poll() is None, "run exited early"
            time.sleep(0.5)
        assert all(_listening(p) for p in everything)
        proc.kill()
        proc.wait()
        assert _freed_within(everything, timeout_s=30) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_stale_broker_is_named_with_its_pid_and_data_dir(
    tmp_path: Path, broker_jars: Path
) -> None:
    config = BrokerConfig("127.0.0.1", free_port(), free_port(), tmp_path / "stale", heap_mb=384)
    stale = LocalBroker(config, broker_jars)
    stale.start()
    try:
        proc = _start(tmp_path, config.port, free_port())
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 1
        assert f"by pid {stale.pid}, a Kafka broker with data dir {tmp_path / 'stale'}" in out
        assert f"kill {stale.pid}" in out
    finally:
        stale.stop()

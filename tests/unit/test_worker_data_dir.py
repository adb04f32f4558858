"""One worker per data dir: a second one stops at once with a clear message."""

from __future__ import annotations

import os
from pathlib import Path

from tests.unit.cli_runs import run_without_kafka
from wxcc_stream.base.settings import Settings, with_overrides
from wxcc_stream.commands.worker import lock_data_dir
from wxcc_stream.processors.shell.app import app_data_dir


def test_the_lock_is_exclusive_and_released_with_its_file(tmp_path: Path) -> None:
    first = lock_data_dir(tmp_path / "app")
    assert first is not None
    assert lock_data_dir(tmp_path / "app") is None
    assert (tmp_path / "app" / "worker.lock").read_text() == f"{os.getpid()}\n"
    first.close()
    again = lock_data_dir(tmp_path / "app")
    assert again is not None
    again.close()


def test_a_second_worker_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    settings = Settings()
    settings = with_overrides(
        settings, worker=with_overrides(settings.worker, data_dir=str(tmp_path))
    )
    held = lock_data_dir(app_data_dir(settings))
    assert held is not None
    try:
        # the worker must stop before it tries to reach Kafka
        done = run_without_kafka("worker", "--data-dir", str(tmp_path))
    finally:
        held.close()
    assert done.returncode == 2, done.stderr
    assert f"another worker of wxcc.wxcc-stream (pid {os.getpid()}) uses" in done.stderr
    assert "--data-dir" in done.stderr

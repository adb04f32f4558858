"""`wxcc-stream sink postgres` as a command: help, and what stops it before it connects."""

from __future__ import annotations

import pytest

from tests.unit.cli_runs import run_without_kafka
from wxcc_stream.cli import main


def test_help_names_the_settings_and_endpoints(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sink", "postgres", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ("--dsn", "WXCC_SINK_DSN", "WXCC_SINK_GROUP_ID", "/readyz", "revision"):
        assert word in text


def test_without_a_dsn_it_stops_with_a_message() -> None:
    done = run_without_kafka("sink", "postgres")
    assert done.returncode == 2
    assert "WXCC_SINK_DSN" in done.stderr


def test_a_bad_port_stops_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sink", "postgres", "--dsn", "host=x", "--port", "0"]) == 2
    assert "--port" in capsys.readouterr().err

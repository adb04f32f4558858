"""`wxcc-stream worker` as a command: help and bad flags, no broker needed."""

from __future__ import annotations

import pytest

from wxcc_stream.cli import main


def test_help_names_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["worker", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--grace-ms", "--flush-timeout-ms", "--horizon-ms", "--partitions"):
        assert flag in text
    assert "/readyz" in text


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--grace-ms", "-1"], "--grace-ms"),
        (["--partitions", "0"], "--partitions"),
        (["--horizon-ms", "1000", "--grace-ms", "3000"], "horizon_ms"),
    ],
)
def test_bad_flags_stop_with_a_message(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["worker", *flags]) == 2
    assert message in capsys.readouterr().err

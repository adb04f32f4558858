"""`wxcc-stream reconcile` stops with exit code 2 on settings or arguments it cannot use,
before reaching the APIs or Kafka, and documents cron use in its help."""

from __future__ import annotations

import pytest

from tests.unit.cli_runs import run_without_kafka


def test_help_documents_the_range_the_checkpoint_and_cron() -> None:
    done = run_without_kafka("reconcile", "--help")
    assert done.returncode == 0
    for words in ("--dry-run", "--every", "reconcile-checkpoints", "30 2 * * *", "Exit code"):
        assert words in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "WXCC_RECONCILE_SOURCE"),
        (("--since", "yesterday-ish"), "yesterday-ish"),
        (("--every", "often"), "often"),
    ],
)
def test_unusable_settings_or_arguments_exit_2(args: tuple[str, ...], message: str) -> None:
    source = {"WXCC_RECONCILE_SOURCE": "/com/cisco/wxcc/sub-1"} if args else {}
    done = run_without_kafka("reconcile", *args, settings=source)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr

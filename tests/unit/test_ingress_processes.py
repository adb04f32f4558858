"""The spool layout of `--processes N`: one directory per process, and no start that would
leave records spooled by another process count undrained."""

from __future__ import annotations

from pathlib import Path

import pytest

from wxcc_stream.base.settings import Settings, with_overrides
from wxcc_stream.ingress.errors import SpoolError
from wxcc_stream.ingress.processes import (
    check_spools,
    pending_bytes,
    process_settings,
    spool_dir_of,
    unserved_spools,
)
from wxcc_stream.ingress.records import OutRecord
from wxcc_stream.ingress.spool import LOG_NAME, POS_NAME, encode_record


def _spooled(directory: Path, records: int, drained: int) -> int:
    """A spool directory whose log holds `records` frames, the first `drained` drained."""
    directory.mkdir(parents=True, exist_ok=True)
    frames = [encode_record(OutRecord("t.raw", b"k", b"v%d" % i)) for i in range(records)]
    (directory / LOG_NAME).write_bytes(b"".join(frames))
    (directory / POS_NAME).write_text(str(sum(len(f) for f in frames[:drained])))
    return sum(len(f) for f in frames[drained:])


@pytest.mark.parametrize(
    ("base", "index", "processes", "expected"),
    [
        ("", 0, 1, ""),
        ("", 1, 2, ""),
        ("/var/spool/wxcc", 0, 1, "/var/spool/wxcc"),
        ("/var/spool/wxcc", 0, 2, "/var/spool/wxcc/process-0"),
        ("/var/spool/wxcc", 3, 4, "/var/spool/wxcc/process-3"),
    ],
)
def test_each_process_has_its_own_spool_directory(
    base: str, index: int, processes: int, expected: str
) -> None:
    assert spool_dir_of(base, index, processes) == expected


def test_process_settings_change_only_the_spool_directory() -> None:
    settings = Settings()
    settings = with_overrides(
        settings, ingress=with_overrides(settings.ingress, spool_dir="/s", port=9000)
    )
    second = process_settings(settings, 1, 2)
    assert second.ingress.spool_dir == "/s/process-1"
    assert with_overrides(second.ingress, spool_dir="/s") == settings.ingress
    assert second.kafka == settings.kafka


def test_pending_bytes_counts_what_was_not_drained(tmp_path: Path) -> None:
    assert pending_bytes(tmp_path / "none") == 0
    assert pending_bytes(tmp_path / "a") == 0
    assert pending_bytes(tmp_path / "a") == _spooled(tmp_path / "a", 3, 3) == 0
    left = _spooled(tmp_path / "b", 3, 1)
    assert left > 0
    assert pending_bytes(tmp_path / "b") == left


def test_spools_of_another_process_count_must_be_drained_first(tmp_path: Path) -> None:
    base = str(tmp_path)
    _spooled(tmp_path / "process-0", 2, 0)
    _spooled(tmp_path / "process-1", 2, 1)
    _spooled(tmp_path / "process-2", 2, 2)  # drained: nothing left behind
    assert unserved_spools(base, 2) == []
    assert unserved_spools(base, 1) == [tmp_path / "process-0", tmp_path / "process-1"]
    with pytest.raises(SpoolError, match="process-1"):
        check_spools(base, 1)
    # a single process's spool (the base directory) is left behind by going to two
    _spooled(tmp_path, 1, 0)
    assert unserved_spools(base, 2) == [tmp_path]
    assert tmp_path not in unserved_spools(base, 1)
    check_spools("", 3)  # no spool: nothing to check

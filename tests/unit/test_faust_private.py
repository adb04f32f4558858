"""Every Faust internal the worker uses is still there: a Faust upgrade that removes or
renames one fails here, loudly, not in a worker under load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wxcc_stream.processors.shell.faust_private import (
    UnsupportedFaust,
    missing_private_api,
    replace_commit_filter,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_faust_has_every_internal_we_use() -> None:
    assert missing_private_api() == []


PINNED = (
    "_current_event",
    "_ensure_producer",
    "_filter_committable_offsets",
    "_committed_offset",
    "_thread",
    "_ensure_consumer",
)


@pytest.mark.parametrize("name", PINNED)
def test_only_faust_private_names_a_faust_internal(name: str) -> None:
    """The private API stays in one module: no other module of the worker names it."""
    users = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "processors").rglob("*.py")
        if re.search(rf"(?<!\w){name}(?!\w)", path.read_text())
    )
    assert users == ["processors/shell/faust_private.py"]


def test_the_commit_guard_refuses_a_consumer_without_the_internals() -> None:
    with pytest.raises(UnsupportedFaust, match="faust-streaming"):
        replace_commit_filter(object(), lambda tps, last: {})

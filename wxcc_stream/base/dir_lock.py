"""One process per directory: an exclusive, advisory lock file inside it.

The worker's data dir (RocksDB would otherwise retry its own lock for 30 s and crash) and
the ingress's spool (two writers would interleave frames and overwrite each other's drain
position) each belong to one process at a time.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO


def lock_directory(path: Path, name: str) -> TextIO | None:
    """Create `path` if needed and lock `path/name` exclusively; the lock is held while the
    returned file stays open (and dies with the process). None when another process (or
    another open of the same file) holds it."""
    path.mkdir(parents=True, exist_ok=True)
    handle = (path / name).open("a")  # not "w": the holder's pid stays readable
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def holder_of(path: Path, name: str) -> str:
    """The pid written in a lock file (for messages), or '?' when unreadable."""
    try:
        return (path / name).read_text().strip() or "?"
    except OSError:
        return "?"

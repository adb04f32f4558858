"""The generations topic's keys, and which generation of each projection is current.

`<prefix>.generations` is compacted; the replay writes it and every consumer of the
projections reads it (docs/replay.md). Its keys:

- `current/<projection>` -> the current generation of that projection (`agent-state`,
  `task-lifecycle`), e.g. `2`; no record: generation 1 (the live topics);
- `replay/g<N>/range` -> the raw offsets replay N is built from;
- `replay/g<N>/done/<partition>` -> that entity partition of replay N is complete;
- `replay/g<N>/seeded` -> replay N writes its final table values to the changelogs of
  generation N's worker (which then starts from the range's end, docs/replay.md);
- `dropped/g<N>` -> generation N was dropped (its topics deleted); a number is never reused.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "PROJECTIONS",
    "current_generations",
    "current_key",
    "done_key",
    "dropped_key",
    "range_key",
    "seeded_key",
]

PROJECTIONS = ("agent-state", "task-lifecycle")


def current_key(projection: str) -> bytes:
    return f"current/{projection}".encode()


def range_key(generation: int) -> bytes:
    return f"replay/g{generation}/range".encode()


def done_key(generation: int, partition: int) -> bytes:
    return f"replay/g{generation}/done/{partition}".encode()


def seeded_key(generation: int) -> bytes:
    return f"replay/g{generation}/seeded".encode()


def dropped_key(generation: int) -> bytes:
    return f"dropped/g{generation}".encode()


def current_generations(records: Iterable[tuple[bytes | None, bytes | None]]) -> dict[str, int]:
    """The current generation of every projection, from the topic's (key, value) records
    in offset order: the last `current/<projection>` record wins, a deleted or missing key
    means generation 1."""
    current = {projection: 1 for projection in PROJECTIONS}
    for raw_key, value in records:
        if raw_key is None or not raw_key.startswith(b"current/"):
            continue
        projection = raw_key.removeprefix(b"current/").decode(errors="replace")
        current[projection] = 1 if value is None else int(value)
    return current

"""Folding helpers shared by the projections: the fold over a sequence and document bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import orjson

SCHEMA_VERSION = 1
"""The `schema_version` every projection document carries."""

S = TypeVar("S")
E = TypeVar("E")

TimeInState = tuple[tuple[str, int], ...]
"""Milliseconds spent per state, as (state, ms) pairs sorted by state: immutable and canonical."""


def fold(events: Iterable[E], initial: S, evolve: Callable[[S, E], S]) -> S:
    """Apply `evolve` to each event in the given order, starting from `initial`.

    The caller chooses the order: for events, the contract order (`projections.event_order`).
    """
    state = initial
    for event in events:
        state = evolve(state, event)
    return state


def document_bytes(doc: Mapping[str, Any]) -> bytes:
    """A projection document as orjson bytes with sorted keys: equal states, equal bytes."""
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def add_time(spent: TimeInState, state: str, ms: int) -> TimeInState:
    """`spent` with `ms` added to `state` (a new sorted tuple; the input is not changed)."""
    totals = dict(spent)
    totals[state] = totals.get(state, 0) + ms
    return tuple(sorted(totals.items()))


def lower_state(data: Mapping[str, Any]) -> str | None:
    """`data.currentState` lower-cased, or None when it is absent, null, empty or not a string."""
    value = data.get("currentState")
    if isinstance(value, str) and value:
        return value.lower()
    return None

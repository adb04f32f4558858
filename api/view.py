"""The materialised view: the newest document of every agent and task, with indexes.

Pure: `apply` takes one projection record (kind, key, bytes) and returns the new entry
when the view changed, or None when the record was older than (or the same as) what is
held. Keeping the highest `revision` per key is the contract of docs/consumers.md.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sortedcontainers import SortedList, SortedSet

from wxcc_stream.api.entries import AgentEntry, Entry, Kind, TaskEntry, decode_entry

E = TypeVar("E", AgentEntry, TaskEntry)


@dataclass(slots=True)
class Index(Generic[E]):
    """Keys (sorted) by the value of one field: `buckets[value]` holds the matching keys."""

    value_of: Callable[[E], Hashable]
    buckets: dict[Hashable, SortedSet[str]] = field(default_factory=dict)

    def add(self, entry: E) -> None:
        value = self.value_of(entry)
        bucket = self.buckets.get(value)
        if bucket is None:
            bucket = self.buckets[value] = SortedSet()
        bucket.add(entry.key)

    def remove(self, entry: E) -> None:
        value = self.value_of(entry)
        bucket = self.buckets[value]
        bucket.discard(entry.key)
        if not bucket:
            del self.buckets[value]

    def keys(self, values: Iterable[Hashable]) -> list[SortedSet[str]]:
        """The buckets of these values (the empty ones left out)."""
        return [self.buckets[v] for v in values if v in self.buckets]


@dataclass(slots=True)
class TimeIndex(Generic[E]):
    """Keys ordered by one time field (entries without a time are left out)."""

    time_of: Callable[[E], int | None]
    items: SortedList[tuple[int, str]] = field(default_factory=SortedList)

    def add(self, entry: E) -> None:
        t = self.time_of(entry)
        if t is not None:
            self.items.add((t, entry.key))

    def remove(self, entry: E) -> None:
        t = self.time_of(entry)
        if t is not None:
            self.items.discard((t, entry.key))

    def between(self, low: int | None, high: int | None) -> Iterator[str]:
        """Keys whose time is in [low, high) (an open side when None), by time."""
        start = (low, "") if low is not None else None
        stop = (high, "") if high is not None else None
        for _, key in self.items.irange(start, stop, inclusive=(True, False)):
            yield key

    def count_between(self, low: int | None, high: int | None) -> int:
        """How many keys `between` would give."""
        lo = 0 if low is None else self.items.bisect_left((low, ""))
        hi = len(self.items) if high is None else self.items.bisect_left((high, ""))
        return max(0, hi - lo)


@dataclass(slots=True)
class Table(Generic[E]):
    """The entries of one kind: by key, all keys sorted, and the field indexes."""

    entries: dict[str, E] = field(default_factory=dict)
    keys: SortedSet[str] = field(default_factory=SortedSet)
    indexes: dict[str, Index[E]] = field(default_factory=dict)
    times: dict[str, TimeIndex[E]] = field(default_factory=dict)

    def put(self, entry: E) -> E | None:
        """Hold `entry` unless an entry of a higher revision (or the same bytes) is held;
        the entry when the table changed."""
        held = self.entries.get(entry.key)
        if held is not None:
            if entry.revision < held.revision or entry.raw == held.raw:
                return None
            self._unindex(held)
        else:
            self.keys.add(entry.key)
        self.entries[entry.key] = entry
        for index in self.indexes.values():
            index.add(entry)
        for time_index in self.times.values():
            time_index.add(entry)
        return entry

    def _unindex(self, entry: E) -> None:
        for index in self.indexes.values():
            index.remove(entry)
        for time_index in self.times.values():
            time_index.remove(entry)


def agent_table() -> Table[AgentEntry]:
    """Agents indexed by team, state and logged-in."""
    return Table(
        indexes={
            "team": Index(lambda e: e.team_id),
            "state": Index(lambda e: e.state),
            "loggedIn": Index(lambda e: e.logged_in),
        }
    )


def task_table() -> Table[TaskEntry]:
    """Tasks indexed by queue, status and channel, and ordered by new and ended time."""
    return Table(
        indexes={
            "queue": Index(lambda e: e.queue_id),
            "status": Index(lambda e: e.status),
            "channel": Index(lambda e: e.channel_type),
            # waiting tasks per queue: what the queue figures read on every refresh
            "waiting": Index(lambda e: (e.queue_id, e.waiting)),
        },
        times={
            "created": TimeIndex(lambda e: e.new_time),
            "ended": TimeIndex(lambda e: e.ended_time),
        },
    )


@dataclass(slots=True)
class View:
    """Every agent and task, newest revision per key."""

    agents: Table[AgentEntry] = field(default_factory=agent_table)
    tasks: Table[TaskEntry] = field(default_factory=task_table)

    def apply(self, kind: Kind, key: str, raw: bytes) -> Entry | None:
        """Fold one projection record in; the new entry when the view changed.

        Raises BadDocument (from `decode_entry`) for a record that is not a document.
        """
        entry = decode_entry(kind, key, raw)
        if isinstance(entry, AgentEntry):
            return self.agents.put(entry)
        return self.tasks.put(entry)

    def agent(self, key: str) -> AgentEntry | None:
        return self.agents.entries.get(key)

    def task(self, key: str) -> TaskEntry | None:
        return self.tasks.entries.get(key)

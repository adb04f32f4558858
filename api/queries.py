"""List queries: filters parsed from query parameters, and stable cursor pagination.

Pages are in key order (agentId, taskId), which no update changes, and a cursor is the
last key served: a page never repeats a key of an earlier page nor skips one that
existed and matched all along, however the documents change between pages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import TypeVar

import orjson
from sortedcontainers import SortedSet

from wxcc_stream.api.auth import Scope
from wxcc_stream.api.entries import AgentEntry, TaskEntry
from wxcc_stream.api.errors import BadQuery
from wxcc_stream.api.view import Table

E = TypeVar("E", AgentEntry, TaskEntry)
_PAGING = ("limit", "cursor")


@dataclass(frozen=True, slots=True)
class AgentQuery:
    """Agents by team, state and logged-in (each optional; several values: any of them)."""

    team: frozenset[str] | None = None
    state: frozenset[str] | None = None
    loggedIn: bool | None = None  # named as the query parameter

    def matches(self, e: AgentEntry) -> bool:
        return (
            (self.team is None or e.team_id in self.team)
            and (self.state is None or e.state in self.state)
            and (self.loggedIn is None or e.logged_in is self.loggedIn)
        )


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Tasks by queue, status, channel and created (newTime) or ended time, [from, to)."""

    queue: frozenset[str] | None = None
    status: frozenset[str] | None = None
    channel: frozenset[str] | None = None
    createdFrom: int | None = None
    createdTo: int | None = None
    endedFrom: int | None = None
    endedTo: int | None = None

    def matches(self, e: TaskEntry) -> bool:
        return (
            (self.queue is None or e.queue_id in self.queue)
            and (self.status is None or e.status in self.status)
            and (self.channel is None or e.channel_type in self.channel)
            and _within(e.new_time, self.createdFrom, self.createdTo)
            and _within(e.ended_time, self.endedFrom, self.endedTo)
        )


def _within(t: int | None, low: int | None, high: int | None) -> bool:
    if low is None and high is None:
        return True
    return t is not None and (low is None or t >= low) and (high is None or t < high)


def parse_ids(params: Mapping[str, str], name: str) -> frozenset[str] | None:
    """A comma-separated list parameter (None when absent); BadQuery when empty."""
    text = params.get(name)
    if text is None:
        return None
    values = frozenset(v.strip() for v in text.split(",") if v.strip())
    if not values:
        raise BadQuery(name, "give at least one value (several separated by commas)")
    return values


def _time(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise BadQuery(name, f"expected epoch milliseconds, got {text!r}") from None


def _bool(params: Mapping[str, str], name: str) -> bool | None:
    text = params.get(name)
    if text is None:
        return None
    if text in ("true", "false"):
        return text == "true"
    raise BadQuery(name, f"expected true or false, got {text!r}")


def _check_names(params: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    for name in params:
        if name not in allowed:
            raise BadQuery(name, f"unknown parameter; known: {', '.join(allowed)}")


def parse_agent_query(params: Mapping[str, str]) -> AgentQuery:
    """An AgentQuery from query parameters; BadQuery naming a bad one."""
    _check_names(params, (*(f.name for f in fields(AgentQuery)), *_PAGING))
    return AgentQuery(
        team=parse_ids(params, "team"),
        state=parse_ids(params, "state"),
        loggedIn=_bool(params, "loggedIn"),
    )


def parse_task_query(params: Mapping[str, str]) -> TaskQuery:
    """A TaskQuery from query parameters; BadQuery naming a bad one."""
    _check_names(params, (*(f.name for f in fields(TaskQuery)), *_PAGING))
    query = TaskQuery(
        queue=parse_ids(params, "queue"),
        status=parse_ids(params, "status"),
        channel=parse_ids(params, "channel"),
        createdFrom=_time(params, "createdFrom"),
        createdTo=_time(params, "createdTo"),
        endedFrom=_time(params, "endedFrom"),
        endedTo=_time(params, "endedTo"),
    )
    for low, high in (("createdFrom", "createdTo"), ("endedFrom", "endedTo")):
        a, b = getattr(query, low), getattr(query, high)
        if a is not None and b is not None and a > b:
            raise BadQuery(low, f"{low} is after {high}")
    return query


def parse_limit(params: Mapping[str, str], default: int, maximum: int) -> int:
    """The page size: `limit`, 1..maximum."""
    text = params.get("limit")
    if text is None:
        return default
    try:
        limit = int(text)
    except ValueError:
        raise BadQuery("limit", f"expected an integer, got {text!r}") from None
    if not 1 <= limit <= maximum:
        raise BadQuery("limit", f"must be within 1..{maximum}, got {limit}")
    return limit


def _fingerprint(query: AgentQuery | TaskQuery) -> str:
    text = repr(sorted((k, sorted(v) if isinstance(v, frozenset) else v) for k, v in (
        (f.name, getattr(query, f.name)) for f in fields(query)
    )))  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def encode_cursor(query: AgentQuery | TaskQuery, after: str) -> str:
    """An opaque cursor: the last key served, bound to the query's filters."""
    payload = orjson.dumps({"a": after, "q": _fingerprint(query)})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(query: AgentQuery | TaskQuery, cursor: str | None) -> str | None:
    """The key a cursor continues after; BadQuery when it is not one of ours or was
    made for other filters."""
    if cursor is None:
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, fingerprint = payload["a"], payload["q"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise BadQuery("cursor", "not a cursor this API gave out") from None
    if not isinstance(after, str) or fingerprint != _fingerprint(query):
        raise BadQuery("cursor", "made for other filters: repeat the same filters with it")
    return after


@dataclass(frozen=True, slots=True)
class Page:
    """The entries of one page and the cursor of the next (None on the last page)."""

    entries: list[AgentEntry] | list[TaskEntry]
    next_after: str | None


def _bucket(table: Table[E], name: str, values: frozenset[str] | None) -> SortedSet[str] | None:
    """The sorted keys whose field `name` has one of `values` (None: no such filter)."""
    if values is None:
        return None
    buckets = table.indexes[name].keys(values)
    if len(buckets) == 1:
        return buckets[0]
    return SortedSet(k for bucket in buckets for k in bucket)


def _page(
    table: Table[E],
    source: SortedSet[str] | None,
    after: str | None,
    wanted: Callable[[E], bool],
    limit: int,
) -> Page:
    """Up to `limit` wanted entries after `after`, walking `source` (or every key) in order."""
    keys = table.keys if source is None else source
    walk: Iterator[str] = iter(keys)
    if after is not None:
        walk = keys.irange(minimum=after, inclusive=(False, True))
    found: list[E] = []
    entries = table.entries
    for key in walk:
        entry = entries[key]
        if wanted(entry):
            if len(found) == limit:
                return Page(found, found[-1].key)
            found.append(entry)
    return Page(found, None)


def _smallest(options: list[SortedSet[str] | None]) -> SortedSet[str] | None:
    given = [o for o in options if o is not None]
    return min(given, key=len) if given else None


def agent_page(
    table: Table[AgentEntry], query: AgentQuery, scope: Scope, after: str | None, limit: int
) -> Page:
    """One page of the agents matching the query that the scope may read."""
    source = _smallest([_bucket(table, "team", query.team), _bucket(table, "state", query.state)])

    def wanted(e: AgentEntry) -> bool:
        return query.matches(e) and scope.allows(e)

    return _page(table, source, after, wanted, limit)


def task_page(
    table: Table[TaskEntry], query: TaskQuery, scope: Scope, after: str | None, limit: int
) -> Page:
    """One page of the tasks matching the query that the scope may read."""
    source = _smallest(
        [_bucket(table, name, getattr(query, name)) for name in ("queue", "status", "channel")]
    )
    for name, low, high in (
        ("created", query.createdFrom, query.createdTo),
        ("ended", query.endedFrom, query.endedTo),
    ):
        times = table.times[name]
        if (low is not None or high is not None) and (
            source is None or times.count_between(low, high) < len(source)
        ):
            source = SortedSet(times.between(low, high))

    def wanted(e: TaskEntry) -> bool:
        return query.matches(e) and scope.allows(e)

    return _page(table, source, after, wanted, limit)

"""Search's `taskDetails` selection as pure functions: time window, filters, pages.

Filters follow the vendor's grammar: `{and: [...]}`, `{or: [...]}`, `{not: ...}` and
`{field: {operator: value}}`, with `{lastQueue: {id: {equals: ...}}}` reaching into an
object field. String operators `equals, notequals, match, contains`; numbers also `gt,
gte, lt, lte`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wxcc_stream.devtools.wxcc_api.paging import cursor_page

SEARCH_PAGE_SIZE = 250
MAX_QUERY_RECORDS = 100_000
_COMPARISONS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page of task records and where the next one starts."""

    tasks: list[dict[str, Any]]
    has_next: bool
    end_cursor: str | None


def select_tasks(
    records: Sequence[dict[str, Any]],
    *,
    start: int,
    end: int,
    time_field: str = "createdTime",
    task_filter: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The records whose `time_field` is in [start, end) and that pass the filter."""
    chosen = [
        record
        for record in records
        if record.get(time_field) is not None
        and start <= record[time_field] < end
        and (task_filter is None or matches(record, task_filter))
    ]
    return chosen[:MAX_QUERY_RECORDS]


def task_page(
    selected: Sequence[dict[str, Any]], cursor: str | None, page_size: int = SEARCH_PAGE_SIZE
) -> TaskPage:
    """The page a cursor names (the first for None, "NA" or "0")."""
    first, last, following = cursor_page(len(selected), cursor, page_size)
    return TaskPage(list(selected[first:last]), following is not None, following)


def matches(record: Mapping[str, Any], task_filter: Mapping[str, Any]) -> bool:
    """Does the record pass every clause of the filter?"""
    for key, clause in task_filter.items():
        if clause is None:
            continue
        if key == "and":
            ok = all(matches(record, part) for part in clause)
        elif key == "or":
            ok = any(matches(record, part) for part in clause)
        elif key == "not":
            ok = not matches(record, clause)
        else:
            ok = _field_matches(record.get(key), clause)
        if not ok:
            return False
    return True


def _field_matches(value: Any, clause: Mapping[str, Any]) -> bool:
    if isinstance(value, Mapping) or (value is None and _is_nested(clause)):
        inner = value or {}
        return all(_field_matches(inner.get(k), c) for k, c in clause.items() if c is not None)
    for operator, wanted in clause.items():
        if wanted is None:
            continue
        if not _operator(operator, value, wanted):
            return False
    return True


def _is_nested(clause: Mapping[str, Any]) -> bool:
    return any(isinstance(c, Mapping) for c in clause.values())


def _operator(operator: str, value: Any, wanted: Any) -> bool:
    if operator == "equals":
        return bool(value == wanted)
    if operator == "notequals":
        return bool(value != wanted)
    if value is None:
        return False
    if operator == "contains":
        return str(wanted) in str(value)
    if operator == "match":
        return re.fullmatch(str(wanted), str(value)) is not None
    return bool(_COMPARISONS[operator](value, wanted))

"""The query rules of the reconciliation APIs: windows, pages, record caps, cursors.

`GET /v1/agents/activities`: `from` required, `to - from` under 24 h, `page` from 0,
`pageSize` 1..1000; at most 10,000 records per window (the rest is not served: the caller
must split) and no paging metadata. Search: a fixed page size and an opaque cursor.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from wxcc_stream.devtools.wxcc_api.errors import BadRequest

DAY_MS = 24 * 3_600_000
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_WINDOW_RECORDS = 10_000
FIRST_CURSORS = frozenset({"NA", "0", ""})

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ActivityQuery:
    """A validated activities request."""

    start: int
    end: int
    page: int
    page_size: int
    agent_ids: frozenset[str] | None
    team_ids: frozenset[str] | None


def parse_activity_query(params: Mapping[str, str], now_ms: int) -> ActivityQuery:
    """Validate the query string as the API does (BadRequest says why)."""
    if "from" not in params:
        raise BadRequest("'from' is required")
    start = _integer(params, "from", None)
    end = _integer(params, "to", now_ms)
    if end <= start:
        raise BadRequest("'to' must be after 'from'")
    if end - start >= DAY_MS:
        raise BadRequest("'to' - 'from' must be less than 24 hours")
    page = _integer(params, "page", 0)
    page_size = _integer(params, "pageSize", DEFAULT_PAGE_SIZE)
    if page < 0 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise BadRequest(f"'page' must be >= 0 and 'pageSize' within 1..{MAX_PAGE_SIZE}")
    return ActivityQuery(
        start, end, page, page_size, _ids(params, "agentIds"), _ids(params, "teamIds")
    )


def window_slice(starts: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """Index range of the records whose (sorted) start time is in [start, end)."""
    return bisect.bisect_left(starts, start), bisect.bisect_left(starts, end)


def activity_page(
    rows: Sequence[T], query: ActivityQuery, cap: int = MAX_WINDOW_RECORDS
) -> list[T]:
    """One page of a window's rows (already filtered), of the first `cap` only."""
    capped = rows[:cap]
    first = query.page * query.page_size
    return list(capped[first : first + query.page_size])


def cursor_page(count: int, cursor: str | None, page_size: int) -> tuple[int, int, str | None]:
    """(first, last) indexes of the page a cursor names, and the next cursor (None: last)."""
    if cursor is None or cursor in FIRST_CURSORS:
        first = 0
    else:
        try:
            first = int(cursor.removeprefix("c"))
        except ValueError:
            raise BadRequest(f"unknown cursor {cursor!r}") from None
        if first < 0 or first > count:
            raise BadRequest(f"unknown cursor {cursor!r}")
    last = min(first + page_size, count)
    return first, last, (f"c{last}" if last < count else None)


def _integer(params: Mapping[str, str], name: str, default: int | None) -> int:
    raw = params.get(name)
    if raw is None:
        if default is None:
            raise BadRequest(f"'{name}' is required")
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be an integer, got {raw!r}") from None


def _ids(params: Mapping[str, str], name: str) -> frozenset[str] | None:
    raw = params.get(name)
    if not raw:
        return None
    ids = frozenset(part.strip() for part in raw.split(",") if part.strip())
    if len(ids) > 100:
        raise BadRequest(f"at most 100 {name}")
    return ids

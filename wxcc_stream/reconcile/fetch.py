"""What the job reads from the WxCC APIs: activities, task records, captures.

Windows follow the APIs' limits: activities are asked in windows under 24 h, a window
that comes back with the 10,000-record cap is halved and asked again; Search is paged by
cursor until `hasNextPage` is false; captures are asked 10 task ids at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from wxcc_stream.reconcile.client import WxccApiClient
from wxcc_stream.reconcile.errors import ApiError, ReconcileError
from wxcc_stream.reconcile.windows import Window, halve, split

MAX_WINDOW_RECORDS = 10_000
CAPTURE_BATCH = 10
FIRST_CURSOR = "NA"
TASK_FIELDS = """id status origin destination createdTime endedTime isActive direction
  channelType owner { id name } lastAgent { id name } lastTeam { id name }
  lastQueue { id name } totalDuration connectedCount connectedDuration holdCount
  holdDuration consultCount consultDuration conferenceCount conferenceDuration queueCount
  queueDuration ringingDuration wrapupDuration lastWrapupCodeName terminationType
  terminationReason terminatingEnd transferCount blindTransferCount captureRequested"""
TASK_QUERY = f"""query Reconcile($from: Long!, $to: Long!, $by: QueryTimeType, $cursor: String) {{
  taskDetails(from: $from, to: $to, timeComparator: $by, pagination: {{cursor: $cursor}}) {{
    tasks {{ {TASK_FIELDS} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""


def _activity_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row.get("agentId"), row.get("startTime"), row.get("currentState"), row.get("taskId"))


async def fetch_activities(
    client: WxccApiClient, start: int, end: int, cap: int = MAX_WINDOW_RECORDS
) -> list[dict[str, Any]]:
    """Every activity row starting in [start, end), in order, each once."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    pending = deque(split(start, end))
    while pending:
        window = pending.popleft()
        got = await _activity_window(client, window, cap)
        if got is None:
            client.stats["windows split"] += 1
            try:
                first, second = halve(window)
            except ValueError:
                raise ReconcileError(f"over {cap} activities in {window}") from None
            pending.extendleft((second, first))
            continue
        client.stats["activity windows"] += 1
        fresh = [row for row in got if _activity_key(row) not in seen]
        seen.update(_activity_key(row) for row in fresh)
        rows += fresh
    return rows


async def _activity_window(
    client: WxccApiClient, window: Window, cap: int
) -> list[dict[str, Any]] | None:
    """The window's rows, or None when it holds the cap (then it must be split)."""
    size, page = client.config.activity_page_size, 0
    rows: list[dict[str, Any]] = []
    while True:
        params: dict[str, str | int] = {
            "from": window.start,
            "to": window.end,
            "page": page,
            "pageSize": size,
        }
        if client.config.org_id:
            params["orgId"] = client.config.org_id
        data = (await client.get("/v1/agents/activities", params)).get("data") or []
        rows += data
        if len(rows) >= cap:
            return None
        if len(data) < size:  # no paging metadata: a short page is the last
            return rows
        page += 1


async def search_tasks(
    client: WxccApiClient, start: int, end: int, by: str = "createdTime"
) -> list[dict[str, Any]]:
    """Every task record whose `by` time is in [start, end), each once."""
    found: dict[str, dict[str, Any]] = {}
    for window in split(start, end):
        cursor: str | None = FIRST_CURSOR
        while cursor is not None:
            variables = {"from": window.start, "to": window.end, "by": by, "cursor": cursor}
            path = "/search" + (f"?orgId={client.config.org_id}" if client.config.org_id else "")
            answer = await client.post(path, {"query": TASK_QUERY, "variables": variables})
            if answer.get("errors"):
                raise ApiError(200, f"GraphQL errors: {answer['errors']}")
            details = answer["data"]["taskDetails"]
            for task in details["tasks"]:
                found[task["id"]] = task
            page = details["pageInfo"]
            cursor = page["endCursor"] if page["hasNextPage"] else None
            client.stats["search pages"] += 1
    return list(found.values())


async def fetch_captures(
    client: WxccApiClient, task_ids: Iterable[str], url_expiration_min: int = 60
) -> dict[str, list[dict[str, Any]]]:
    """Recordings per task id (unknown ids: an empty list)."""
    ids = list(dict.fromkeys(task_ids))
    found: dict[str, list[dict[str, Any]]] = {}
    for first in range(0, len(ids), CAPTURE_BATCH):
        query: dict[str, Any] = {
            "taskIds": ids[first : first + CAPTURE_BATCH],
            "urlExpiration": url_expiration_min,
            "includeSegments": True,
        }
        if client.config.org_id:
            query["orgId"] = client.config.org_id
        answer = await client.post("/v1/captures/query", {"query": query})
        for entry in answer.get("data") or []:
            found[entry["taskId"]] = list(entry.get("recording") or [])
    return found

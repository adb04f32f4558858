"""Request handlers of the documents, the lists and the aggregates (thin: parse, ask the
pure core, answer)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain

import orjson
from aiohttp import web

from wxcc_stream.api.aggregates import Window, queue_figures, since_midnight, team_figures
from wxcc_stream.api.aggregates import window_figures as tasks_figures
from wxcc_stream.api.auth import Scope
from wxcc_stream.api.entries import IN_PROGRESS, AgentEntry, TaskEntry
from wxcc_stream.api.errors import BadQuery
from wxcc_stream.api.problems import problem
from wxcc_stream.api.queries import (
    AgentQuery,
    Page,
    TaskQuery,
    agent_page,
    decode_cursor,
    encode_cursor,
    parse_agent_query,
    parse_ids,
    parse_limit,
    parse_task_query,
    task_page,
)
from wxcc_stream.api.state import STATE, forbidden, not_ready, position_headers, scope_of
from wxcc_stream.api.view import View

JSON = "application/json"


def _document(
    request: web.Request, entry: AgentEntry | TaskEntry | None, what: str
) -> web.Response:
    if entry is None:
        return problem(404, f"no {what} with this id", instance=request.path)
    if not scope_of(request).allows(entry):
        return problem(403, f"this token may not read this {what}", instance=request.path)
    return web.Response(body=entry.raw, content_type=JSON, headers=position_headers(request))


async def get_agent(request: web.Request) -> web.Response:
    """One agent's agent-state document."""
    refused = not_ready(request)
    if refused is not None:
        return refused
    view = request.app[STATE].feed.view
    return _document(request, view.agent(request.match_info["agentId"]), "agent")


async def get_task(request: web.Request) -> web.Response:
    """One task's task-lifecycle document."""
    refused = not_ready(request)
    if refused is not None:
        return refused
    view = request.app[STATE].feed.view
    return _document(request, view.task(request.match_info["taskId"]), "task")


def _page_response(request: web.Request, query: AgentQuery | TaskQuery, page: Page) -> web.Response:
    next_cursor = None if page.next_after is None else encode_cursor(query, page.next_after)
    body = b"".join(
        (
            b'{"items":[',
            b",".join(entry.raw for entry in page.entries),
            b'],"next":',
            orjson.dumps(next_cursor),
            b"}",
        )
    )
    return web.Response(body=body, content_type=JSON, headers=position_headers(request))


async def list_agents(request: web.Request) -> web.Response:
    """Agents by team, state and logged-in, a page at a time (stable cursor)."""
    state = request.app[STATE]
    query = parse_agent_query(request.query)
    limit = parse_limit(request.query, state.settings.page_limit, state.settings.max_page_limit)
    after = decode_cursor(query, request.query.get("cursor"))
    refused = forbidden(request, query.team or (), ()) or not_ready(request)
    if refused is not None:
        return refused
    page = agent_page(state.feed.view.agents, query, scope_of(request), after, limit)
    return _page_response(request, query, page)


async def list_tasks(request: web.Request) -> web.Response:
    """Tasks by queue, status, channel and created or ended time, a page at a time."""
    state = request.app[STATE]
    query = parse_task_query(request.query)
    limit = parse_limit(request.query, state.settings.page_limit, state.settings.max_page_limit)
    after = decode_cursor(query, request.query.get("cursor"))
    refused = forbidden(request, (), query.queue or ()) or not_ready(request)
    if refused is not None:
        return refused
    page = task_page(state.feed.view.tasks, query, scope_of(request), after, limit)
    return _page_response(request, query, page)


def _window(request: web.Request, now_ms: int) -> Window:
    state = request.app[STATE]
    bounds = []
    for name in ("from", "to"):
        text = request.query.get(name)
        try:
            bounds.append(None if text is None else int(text))
        except ValueError:
            raise BadQuery(name, f"expected epoch milliseconds, got {text!r}") from None
    start, end = bounds
    today = since_midnight(now_ms, state.zone)
    window = Window(today.start_ms if start is None else start, now_ms if end is None else end)
    if window.start_ms > window.end_ms:
        raise BadQuery("from", "from is after to")
    return window


def _agents(view: View, teams: frozenset[str] | None, scope: Scope) -> Iterator[AgentEntry]:
    table = view.agents
    keys: Iterable[str] = table.keys
    if teams is not None:
        keys = chain.from_iterable(table.indexes["team"].keys(teams))
    return (e for e in map(table.entries.__getitem__, keys) if scope.allows(e))


def _live_tasks(view: View, queues: frozenset[str] | None, scope: Scope) -> Iterator[TaskEntry]:
    table = view.tasks
    if queues is None:
        buckets = table.indexes["waiting"].buckets
        waiting = chain.from_iterable(b for value, b in buckets.items() if value[1])  # type: ignore[index]
    else:
        waiting = chain.from_iterable(table.indexes["waiting"].keys((q, True) for q in queues))
    busy = chain.from_iterable(table.indexes["status"].keys(IN_PROGRESS))
    for entry in map(table.entries.__getitem__, chain(waiting, busy)):
        if (queues is None or entry.queue_id in queues) and scope.allows(entry):
            yield entry


def _ended(
    view: View, window: Window, queues: frozenset[str] | None, scope: Scope
) -> Iterator[TaskEntry]:
    table = view.tasks
    for key in table.times["ended"].between(window.start_ms, window.end_ms):
        entry = table.entries[key]
        if (queues is None or entry.queue_id in queues) and scope.allows(entry):
            yield entry


async def aggregates(request: web.Request) -> web.Response:
    """Per team, per queue and over a window (default: since the org's midnight)."""
    state = request.app[STATE]
    names = ("team", "queue", "from", "to")
    for name in request.query:
        if name not in names:
            raise BadQuery(name, f"unknown parameter; known: {', '.join(names)}")
    teams, queues = parse_ids(request.query, "team"), parse_ids(request.query, "queue")
    now_ms = state.clock.now_ms()
    window = _window(request, now_ms)
    refused = forbidden(request, teams or (), queues or ()) or not_ready(request)
    if refused is not None:
        return refused
    scope, view, feed = scope_of(request), state.feed.view, state.feed
    total, per_queue = tasks_figures(
        _ended(view, window, queues, scope), state.settings.service_level_ms
    )
    doc = {
        "now": now_ms,
        "teams": team_figures(_agents(view, teams, scope), now_ms),
        "queues": queue_figures(_live_tasks(view, queues, scope), now_ms),
        "window": window.document(state.zone),
        "serviceLevelThresholdMs": state.settings.service_level_ms,
        "tasks": total,
        "tasksByQueue": per_queue,
        "freshness": {
            "newestEventTime": feed.newest_event_time,
            "lastChangeAt": feed.last_change_ms,
            "lagRecords": feed.lag(),
            "staleAfterMs": state.settings.stale_after_ms,
        },
        "longIdleMs": state.settings.long_idle_ms,
    }
    return web.Response(
        body=orjson.dumps(doc), content_type=JSON, headers=position_headers(request)
    )

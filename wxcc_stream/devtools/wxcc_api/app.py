"""The simulator's HTTP shell: aiohttp routes over the pure parts (a thin layer).

Routes: `POST /v1/access_token`, `GET /v1/agents/activities`, `POST /search`,
`POST /v1/captures/query`. Every data request needs a valid bearer token and may be
answered with an injected fault first. Bound to loopback only.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from graphql import GraphQLSchema, graphql

from wxcc_stream.devtools.scenario import Scenario
from wxcc_stream.devtools.wxcc_api.captures import (
    MAX_TASK_IDS,
    MAX_URL_EXPIRATION_MIN,
    capture_answer,
)
from wxcc_stream.devtools.wxcc_api.day import ApiDay
from wxcc_stream.devtools.wxcc_api.errors import BadRequest
from wxcc_stream.devtools.wxcc_api.faults import Fault, FaultPlan, FaultSettings, RateWindow
from wxcc_stream.devtools.wxcc_api.paging import MAX_WINDOW_RECORDS, parse_activity_query
from wxcc_stream.devtools.wxcc_api.schema import build_search_schema
from wxcc_stream.devtools.wxcc_api.search import SEARCH_PAGE_SIZE, select_tasks, task_page
from wxcc_stream.devtools.wxcc_api.tokens import TokenBook, TokenSettings, Unauthorized

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ApiSimConfig:
    """How the simulated API behaves; `now_ms` None: the day is over (all final)."""

    tokens: TokenSettings = field(default_factory=TokenSettings)
    faults: FaultSettings = field(default_factory=FaultSettings)
    now_ms: int | None = None
    rate_limit_per_minute: int | None = 300  # the vendor's; None: unlimited
    search_page_size: int = SEARCH_PAGE_SIZE
    max_window_records: int = MAX_WINDOW_RECORDS
    url_key: bytes = b"wxcc-stream-simulated-recordings"


@dataclass(slots=True)
class ApiState:
    """What the handlers share: the day, the token book, the fault plan, counters."""

    day: ApiDay
    config: ApiSimConfig
    tokens: TokenBook
    faults: FaultPlan
    now_ms: int
    clock: Callable[[], float]
    schema: GraphQLSchema
    rate: RateWindow | None
    blocked_until: float = 0.0  # after a 429, asking again before Retry-After gets another
    stats: Counter[str] = field(default_factory=Counter)


STATE = web.AppKey("wxcc_api_state", ApiState)


def build_app(
    scenario: Scenario, config: ApiSimConfig, clock: Callable[[], float] = time.monotonic
) -> web.Application:
    """The simulator as an aiohttp application (tokens expire on `clock`)."""
    day = ApiDay(scenario)
    limit = config.rate_limit_per_minute
    state = ApiState(
        day=day,
        config=config,
        tokens=TokenBook(config.tokens, clock),
        faults=FaultPlan(config.faults),
        now_ms=day.end_ms if config.now_ms is None else config.now_ms,
        clock=clock,
        schema=build_search_schema(),
        rate=None if limit is None else RateWindow(limit),
    )
    app = web.Application(middlewares=[_errors])
    app[STATE] = state
    app.router.add_post("/v1/access_token", _token)
    app.router.add_get("/v1/agents/activities", _guarded(_activities))
    app.router.add_post("/search", _guarded(_search))
    app.router.add_post("/v1/captures/query", _guarded(_captures))
    return app


@asynccontextmanager
async def serve(app: web.Application, port: int = 0) -> AsyncIterator[str]:
    """Run the app on 127.0.0.1 (port 0: any free one) and yield its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        host, bound = runner.addresses[0][:2]
        yield f"http://{host}:{bound}"
    finally:
        await runner.cleanup()


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as exc:
        request.app[STATE].stats["400"] += 1
        return web.json_response({"error": {"message": str(exc)}}, status=400)
    except Unauthorized as exc:
        request.app[STATE].stats["401"] += 1
        return web.json_response({"error": {"message": str(exc)}}, status=401)


def _guarded(handler: Handler) -> Handler:
    """Check the bearer token, then maybe answer with an injected fault instead."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        state.stats["requests"] += 1
        token = state.tokens.check(request.headers.get("Authorization"))
        if state.clock() < state.blocked_until:
            state.stats["429 early"] += 1  # the caller did not honour Retry-After
            return _too_many(state.blocked_until - state.clock())
        wait = None if state.rate is None else state.rate.admit(state.clock())
        if wait is not None:
            state.stats["429 rate"] += 1
            state.blocked_until = state.clock() + wait
            return _too_many(wait)
        fault = state.faults.next()
        if fault is Fault.EXPIRE_TOKEN:
            state.tokens.expire(token)
            raise Unauthorized("access token expired")
        if fault is Fault.TOO_MANY:
            state.stats["429"] += 1
            state.blocked_until = state.clock() + state.config.faults.retry_after_s
            return _too_many(state.config.faults.retry_after_s)
        if fault is Fault.SERVER_ERROR:
            state.stats["5xx"] += 1
            return web.json_response({"error": {"message": "upstream failure"}}, status=503)
        if fault is Fault.SLOW:
            state.stats["slow"] += 1
            await asyncio.sleep(state.config.faults.slow_ms / 1000)
        return await handler(request)

    return guarded


def _too_many(wait_s: float) -> web.Response:
    return web.json_response(
        {"error": {"message": "Too Many Requests"}},
        status=429,
        headers={"Retry-After": str(max(0, math.ceil(wait_s)))},
    )


async def _token(request: web.Request) -> web.Response:
    form = await request.post()
    state = request.app[STATE]
    answer = state.tokens.grant({k: str(v) for k, v in form.items()})
    grant = form.get("grant_type")
    state.stats[f"token {grant if isinstance(grant, str) else ''}"] += 1  # granted
    return web.json_response(answer)


async def _activities(request: web.Request) -> web.Response:
    state = request.app[STATE]
    query = parse_activity_query(request.query, state.now_ms)
    rows = state.day.activity_rows(query, state.now_ms, state.config.max_window_records)
    return web.json_response({"meta": {"orgId": state.day.org_id}, "data": rows})


async def _search(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _json(request)
    if not isinstance(body.get("query"), str):
        raise BadRequest("'query' (a GraphQL document) is required")

    def task_details(_info: Any, **args: Any) -> dict[str, Any]:
        selected = select_tasks(
            state.day.task_records(state.now_ms),
            start=args["from"],
            end=args["to"],
            time_field=args.get("timeComparator") or "createdTime",
            task_filter=args.get("filter"),
        )
        cursor = (args.get("pagination") or {}).get("cursor")
        page = task_page(selected, cursor, state.config.search_page_size)
        return {
            "tasks": page.tasks,
            "pageInfo": {"hasNextPage": page.has_next, "endCursor": page.end_cursor},
        }

    result = await graphql(
        state.schema,
        body["query"],
        root_value={"taskDetails": task_details},
        variable_values=body.get("variables"),
    )
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [error.formatted for error in result.errors]
    return web.json_response(answer)


async def _captures(request: web.Request) -> web.Response:
    state = request.app[STATE]
    query = (await _json(request)).get("query") or {}
    task_ids = query.get("taskIds")
    if not isinstance(task_ids, list) or not 1 <= len(task_ids) <= MAX_TASK_IDS:
        raise BadRequest(f"'query.taskIds' must list 1..{MAX_TASK_IDS} task ids")
    if len(set(task_ids)) != len(task_ids):
        raise BadRequest("task ids must be unique")
    expiration = int(query.get("urlExpiration", 10))
    if not 1 <= expiration <= MAX_URL_EXPIRATION_MIN:
        raise BadRequest(f"'urlExpiration' must be within 1..{MAX_URL_EXPIRATION_MIN} minutes")
    data = capture_answer(
        [str(task_id) for task_id in task_ids],
        state.day.recordings,
        now_ms=state.now_ms,
        issued_ms=int(time.time() * 1000),
        url_expiration_min=expiration,
        key=state.config.url_key,
    )
    meta = {"orgId": state.day.org_id, "urlExpiration": expiration}
    return web.json_response({"meta": meta, "data": data})


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body must be JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body

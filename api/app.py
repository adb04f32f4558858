"""The aiohttp application: documents, lists, aggregates, the live stream, the wallboard,
health, readiness, metrics and the OpenAPI description.

`build_app` is the one place where settings, the feed, the tokens and the metrics are
wired together.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from zoneinfo import ZoneInfo

import aiohttp_cors
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from wxcc_stream.api import handlers, stream, wallboard
from wxcc_stream.api.auth import authenticate, parse_tokens
from wxcc_stream.api.clock import Clock, SystemClock
from wxcc_stream.api.errors import BadQuery
from wxcc_stream.api.feed import Feed
from wxcc_stream.api.kafka_feed import KafkaFeed
from wxcc_stream.api.metrics import ApiMetrics
from wxcc_stream.api.openapi import openapi_document
from wxcc_stream.api.problems import problem
from wxcc_stream.api.state import SCOPE, STATE, ApiState
from wxcc_stream.base.settings import Settings

log = logging.getLogger("api")

# no token needed: probes, Prometheus, the API's description and the wallboard's files
# (the page holds no data; it asks for the token and sends it with every request)
PUBLIC = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/", "/favicon.ico"})
PUBLIC_PREFIXES = ("/wallboard",)


def build_app(
    settings: Settings,
    *,
    feed: Feed | None = None,
    clock: Clock | None = None,
    metrics: ApiMetrics | None = None,
) -> web.Application:
    """The API app. It starts `feed` (the projection topics by default) on startup."""
    metrics = metrics or (feed.metrics if feed is not None else ApiMetrics())
    state = ApiState(
        settings=settings.api,
        feed=feed or KafkaFeed(settings, metrics),
        metrics=metrics,
        clock=clock or SystemClock(),
        tokens=parse_tokens(settings.api.tokens),
        zone=ZoneInfo(settings.api.org_timezone),
    )
    app = web.Application(middlewares=[_count, _authorize])
    app[STATE] = state
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/agents", handlers.list_agents)
    app.router.add_get("/agents/{agentId}", handlers.get_agent)
    app.router.add_get("/tasks", handlers.list_tasks)
    app.router.add_get("/tasks/{taskId}", handlers.get_task)
    app.router.add_get("/aggregates", handlers.aggregates)
    app.router.add_get("/stream", stream.stream)
    wallboard.add_routes(app)
    _enable_cors(app, settings.api.cors_origins)
    app.cleanup_ctx.append(_feed_lifecycle)
    app.on_shutdown.append(_end_streams)
    return app


def _enable_cors(app: web.Application, origins: str) -> None:
    allowed = [o.strip() for o in origins.split(",") if o.strip()]
    if not allowed:
        return  # CORS off: browsers refuse cross-origin reads
    options = aiohttp_cors.ResourceOptions(  # type: ignore[no-untyped-call]
        allow_headers=("Authorization", "Last-Event-ID"),
        expose_headers=("X-Stream-Position",),
        max_age=600,
    )
    cors = aiohttp_cors.setup(app, defaults={origin: options for origin in allowed})
    for route in list(app.router.routes()):
        cors.add(route)


async def _feed_lifecycle(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    if not state.tokens:
        log.warning("no tokens configured (WXCC_API_TOKENS): every data request gets 401")
    await state.feed.start()
    yield
    await state.feed.stop()


async def _end_streams(app: web.Application) -> None:
    state = app[STATE]
    state.draining = True
    for response in list(state.streams):
        response.stop_streaming()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _count(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count answers by route and status, and turn BadQuery into a 400 problem."""
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    try:
        response = await handler(request)
    except BadQuery as exc:
        response = problem(400, str(exc), instance=request.path, parameter=exc.parameter)
    except web.HTTPException as exc:
        request.app[STATE].metrics.requests.labels(name, str(exc.status)).inc()
        raise
    request.app[STATE].metrics.requests.labels(name, str(response.status)).inc()
    return response


@web.middleware
async def _authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 without a known bearer token, except on the public paths."""
    path = request.path
    if request.method == "OPTIONS" or path in PUBLIC or path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    scope = authenticate(request.headers.get("Authorization"), request.app[STATE].tokens)
    if scope is None:
        return problem(
            401,
            "send a token of WXCC_API_TOKENS as 'Authorization: Bearer <token>'",
            instance=path,
            headers={"WWW-Authenticate": 'Bearer realm="wxcc-stream"'},
        )
    request[SCOPE] = scope
    return await handler(request)


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving HTTP."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready once the view has read both projection topics up to where they ended at start."""
    state = request.app[STATE]
    feed = state.feed
    ready = feed.caught_up and not state.draining
    doc = {
        "ready": ready,
        "caughtUp": feed.caught_up,
        "draining": state.draining,
        "agents": len(feed.view.agents.entries),
        "tasks": len(feed.view.tasks.entries),
        "lagRecords": feed.lag(),
        "error": getattr(feed, "error", None),
    }
    return web.json_response(doc, status=200 if ready else 503)


async def metrics_endpoint(request: web.Request) -> web.Response:
    """Prometheus text exposition of this app's registry."""
    registry = request.app[STATE].metrics.registry
    response = web.Response(body=generate_latest(registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 description of this API."""
    return web.json_response(openapi_document())

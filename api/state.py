"""What every request handler reads: the app's state, under a typed key."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp_sse import EventSourceResponse

from wxcc_stream.api.auth import Scope
from wxcc_stream.api.changes import encode_position
from wxcc_stream.api.clock import Clock
from wxcc_stream.api.feed import Feed
from wxcc_stream.api.metrics import ApiMetrics
from wxcc_stream.api.problems import problem
from wxcc_stream.base.settings import ApiSettings


@dataclass(slots=True)
class ApiState:
    """Everything a handler needs, built once per app."""

    settings: ApiSettings
    feed: Feed
    metrics: ApiMetrics
    clock: Clock
    tokens: dict[str, Scope]
    zone: ZoneInfo
    streams: set[EventSourceResponse] = field(default_factory=set)
    draining: bool = False


STATE = web.AppKey("api_state", ApiState)
SCOPE = "wxcc_scope"  # request key: the Scope of the request's token
POSITION_HEADER = "X-Stream-Position"
RETRY_AFTER_S = 2


def scope_of(request: web.Request) -> Scope:
    """The scope of the request's token (set by the auth middleware)."""
    scope: Scope = request[SCOPE]
    return scope


def not_ready(request: web.Request) -> web.Response | None:
    """A 503 while the view has not caught up with the topics yet, else None."""
    feed = request.app[STATE].feed
    if feed.caught_up and feed.log is not None:
        return None
    return problem(
        503,
        "still reading the projection topics; the data would be incomplete",
        instance=request.path,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def position_headers(request: web.Request) -> dict[str, str]:
    """The stream position the answer reflects (start the stream there to miss nothing)."""
    log = request.app[STATE].feed.log
    return {} if log is None else {POSITION_HEADER: encode_position(log.position)}


def forbidden(
    request: web.Request, teams: Iterable[str], queues: Iterable[str]
) -> web.Response | None:
    """A 403 naming the teams and queues the request's token may not read, else None."""
    outside = scope_of(request).outside(teams, queues)
    if not outside:
        return None
    return problem(
        403, f"this token may not read {', '.join(sorted(outside))}", instance=request.path
    )

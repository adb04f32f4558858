"""`GET /stream`: projection changes as Server-Sent Events, resumable with Last-Event-ID.

Each event is `agent` or `task` with the new document; its id is the position after it
(see `changes`), so a client that reconnects with `Last-Event-ID` (or `?lastEventId=`)
gets exactly what it missed, from any replica, or a `reset` event telling it to reload
when the change log no longer reaches back that far.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from aiohttp import web
from aiohttp_sse import EventSourceResponse, sse_response

from wxcc_stream.api.auth import Scope
from wxcc_stream.api.changes import Change, Offsets, encode_position, merge, parse_position
from wxcc_stream.api.entries import Kind
from wxcc_stream.api.state import STATE, forbidden, not_ready, scope_of
from wxcc_stream.api.stream_filter import StreamFilter, parse_stream_filter

WAKE_S = 1.0  # how often an idle stream checks that its client and the app are still there


def event_data(change: Change) -> str:
    """The data of one change event: kind, key, revision and the document itself."""
    entry = change.entry
    head = orjson.dumps({"kind": change.kind.value, "key": entry.key, "revision": entry.revision})
    return (head[:-1] + b',"document":' + entry.raw + b"}").decode()


async def _send(
    response: EventSourceResponse, changes: Iterable[Change], wanted: StreamFilter, floor: Offsets
) -> Offsets:
    """Send the wanted changes not seen yet; the new position of the client."""
    for change in changes:
        slot = 0 if change.kind is Kind.AGENT else 1
        if change.offset < floor[slot][change.partition]:
            continue  # the client saw it already (it came from a replica further ahead)
        floor = merge(floor, change.position)
        if wanted.matches(change.entry):
            await response.send(
                event_data(change), id=encode_position(floor), event=change.kind.value
            )
    return floor


async def stream(request: web.Request) -> web.StreamResponse:
    """Live projection changes, filtered by kind, team and queue, within the token's scope."""
    state = request.app[STATE]
    scope: Scope = scope_of(request)
    wanted = parse_stream_filter(request.query, scope)
    refused = forbidden(request, wanted.teams or (), wanted.queues or ()) or not_ready(request)
    if refused is not None:
        return refused
    feed = state.feed
    log = feed.log
    assert log is not None  # not_ready checked it
    last_id = request.headers.get("Last-Event-ID") or request.query.get("lastEventId")
    async with sse_response(
        request,
        ping_interval=state.settings.sse_ping_s,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    ) as response:
        state.streams.add(response)
        state.metrics.subscribers.inc()
        try:
            seq, floor = log.seq, log.position
            backlog = None
            if last_id:
                resumed = parse_position(last_id, log.partitions)
                backlog = None if resumed is None else log.resume(resumed)
                if backlog is None:
                    await _reset(response, floor, "cannot resume from this event id: reload")
                else:
                    floor = await _send(response, backlog, wanted, resumed)  # type: ignore[arg-type]
                    floor = merge(floor, log.position)
            if not last_id or backlog is not None:
                await response.send(
                    orjson.dumps({"now": state.clock.now_ms()}).decode(),
                    id=encode_position(floor),
                    event="ready",
                )
            while response.is_connected() and not state.draining:
                if not await feed.wait_change(WAKE_S):
                    continue
                changes = log.after(seq)
                seq = log.seq
                if changes is None:
                    floor = log.position
                    await _reset(response, floor, "this stream fell behind the change log: reload")
                    continue
                floor = await _send(response, changes, wanted, floor)
        except ConnectionResetError:
            pass
        finally:
            state.streams.discard(response)
            state.metrics.subscribers.dec()
    return response


async def _reset(response: EventSourceResponse, position: Offsets, reason: str) -> None:
    await response.send(
        orjson.dumps({"reason": reason}).decode(), id=encode_position(position), event="reset"
    )

"""The aiohttp application: the webhook endpoint, health, readiness and metrics.

`build_app` is the one place where settings, the admission policy, the publisher (and
the optional spool) and the metrics are wired together.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from wxcc_stream.base.clock import Clock, SystemClock
from wxcc_stream.base.settings import Settings
from wxcc_stream.ingress.admission import Accepted, Mode, admit
from wxcc_stream.ingress.deadline import Deadlines
from wxcc_stream.ingress.errors import IngressError
from wxcc_stream.ingress.metrics import IngressMetrics, type_label
from wxcc_stream.ingress.policy import AdmissionPolicy
from wxcc_stream.ingress.problems import PROBLEM_CONTENT_TYPE, Reason, Rejection, problem_body
from wxcc_stream.ingress.publisher import KafkaConfig, KafkaRawPublisher, RawPublisher
from wxcc_stream.ingress.records import OutRecord, deadletter_record, raw_record
from wxcc_stream.ingress.spool import Spool

log = logging.getLogger("ingress")


@dataclass(slots=True)
class IngressState:
    """Everything a request handler needs, built once per app."""

    settings: Settings
    policy: AdmissionPolicy
    store: RawPublisher
    metrics: IngressMetrics
    clock: Clock
    spool: Spool | None = None
    draining: bool = False
    accepted_bodies: dict[int, bytes] = field(default_factory=dict)
    # read per request: looked up once rather than through the settings each time
    raw_topic: str = field(init=False)
    max_body_bytes: int = field(init=False)
    deadlines: Deadlines = field(init=False)
    timeout_detail: str = field(init=False)

    def __post_init__(self) -> None:
        ingress = self.settings.ingress
        self.raw_topic = self.settings.topic.raw
        self.max_body_bytes = ingress.max_body_bytes
        self.deadlines = Deadlines(ingress.publish_deadline_ms / 1000)
        self.timeout_detail = f"not stored within {ingress.publish_deadline_ms} ms"

    def accepted_body(self, count: int) -> bytes:
        body = self.accepted_bodies.get(count)
        if body is None:
            body = self.accepted_bodies[count] = orjson.dumps({"accepted": count})
        return body


STATE = web.AppKey("ingress_state", IngressState)


def build_app(
    settings: Settings,
    *,
    publisher: RawPublisher | None = None,
    clock: Clock | None = None,
    metrics: IngressMetrics | None = None,
) -> web.Application:
    """The ingress app. It starts `publisher` (Kafka by default, behind the spool when
    `settings.ingress.spool_dir` is set) on startup and stops it after the last request."""
    ingress = settings.ingress
    policy = AdmissionPolicy.from_settings(ingress)
    metrics = metrics or IngressMetrics()
    inner = publisher or kafka_publisher(settings)
    spool = None
    if ingress.spool_dir:
        spool = Spool(
            Path(ingress.spool_dir),
            inner,
            # leave half the deadline for the fsync when Kafka does not answer in time
            direct_timeout_s=ingress.publish_deadline_ms / 2000,
            on_depth=metrics.set_spool_depth,
        )
    state = IngressState(
        settings=settings,
        policy=policy,
        store=spool or inner,
        metrics=metrics,
        clock=clock or SystemClock(),
        spool=spool,
    )
    app = web.Application(client_max_size=ingress.max_body_bytes)
    app[STATE] = state
    app.router.add_post(ingress.path, receive)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    app.cleanup_ctx.append(_store_lifecycle)
    app.on_shutdown.append(_start_draining)
    return app


def kafka_publisher(settings: Settings) -> RawPublisher:
    """The Kafka publisher the settings choose (`WXCC_INGRESS_PUBLISHER`)."""
    config = KafkaConfig.from_settings(settings)
    if settings.ingress.publisher == "confluent":
        from wxcc_stream.ingress.confluent_publisher import ConfluentRawPublisher

        return ConfluentRawPublisher(config)
    return KafkaRawPublisher(config)


async def _store_lifecycle(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    if not state.policy.verify_signatures:
        log.warning("signature verification is OFF: any sender can inject events")
    elif not state.policy.secrets:
        log.warning("no secrets configured: every delivery will be refused (403)")
    await state.store.start()
    log.info(
        "ingress started",
        extra={
            "path": state.settings.ingress.path,
            "raw_topic": state.settings.topic.raw,
            "deadletter_topic": state.settings.topic.deadletter,
            "spool": state.settings.ingress.spool_dir or None,
        },
    )
    yield
    # aiohttp calls this after the in-flight handlers finished (or the shutdown timeout)
    await state.store.stop()
    state.deadlines.close()
    log.info("ingress stopped: every acknowledged event is in Kafka")


async def _start_draining(app: web.Application) -> None:
    app[STATE].draining = True
    log.info("shutting down: not accepting connections, finishing in-flight deliveries")


_ACCEPTED_HEADERS = {"Content-Type": "application/json"}


async def receive(request: web.Request) -> web.Response:
    """One webhook delivery: admit, store, then answer 202, or refuse with a problem."""
    state = request.app[STATE]
    received_at = state.clock.now_ms()
    limit = state.max_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        return await _too_large(request, state, received_at, f"Content-Length {length}")
    body = _buffered_body(request)
    if body is None:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return await _too_large(request, state, received_at, "the body")
    elif len(body) > limit:  # a chunked body has no Content-Length to check first
        return await _too_large(request, state, received_at, "the body")
    decision = admit(body, request.headers, state.policy, now_ms=received_at)
    if not isinstance(decision, Accepted):
        return await _refuse(request, state, body, decision, received_at)
    topic = state.raw_topic
    events = decision.events
    label = "batch" if decision.mode is Mode.BATCH else type_label(events[0].event.type)
    records = [raw_record(topic, a.event, a.value, received_at=received_at) for a in events]
    started = time.perf_counter()
    failure = await _store(state, records)
    if failure is not None:
        log.warning(
            "could not store delivery, answering 503",
            extra={"error": failure, "event_ids": [a.event.ce_id for a in events]},
        )
        return _unavailable(state, label, failure)
    metrics = state.metrics
    metrics.observe_publish(time.perf_counter() - started)
    if label == "batch":
        for admitted in events:
            metrics.count_event(type_label(admitted.event.type))
    else:
        metrics.count_event(label)
    metrics.count_request(202, label)
    if log.isEnabledFor(logging.DEBUG):
        for admitted in events:
            log.debug(
                "stored",
                extra={"event_id": admitted.event.ce_id, "event_type": admitted.event.type},
            )
    return web.Response(
        status=202, body=state.accepted_body(len(records)), headers=_ACCEPTED_HEADERS
    )


def _buffered_body(request: web.Request) -> bytes | None:
    """The whole body when it has already arrived (the common case for a webhook of a few
    KB), taken without `request.read()`'s coroutine, copy and second read; else None."""
    content = request.content
    if content.is_eof() and content.exception() is None:
        return content.read_nowait()
    return None


async def _store(state: IngressState, records: Sequence[OutRecord]) -> str | None:
    """Publish within the deadline; None on success, else what went wrong."""
    task = asyncio.current_task()
    assert task is not None  # a request handler always runs in a task
    cancelling = task.cancelling()
    deadline = state.deadlines.watch(task)
    failure: str | None = None
    try:
        await state.store.publish(records)
    except asyncio.CancelledError:
        # ours only when the deadline fired and nothing else asked to cancel the task
        if deadline.expired and task.uncancel() <= cancelling:
            return state.timeout_detail
        raise
    except IngressError as err:
        failure = str(err) or type(err).__name__
    except Exception as err:  # any other store failure is still a 503, never a 500
        log.exception("unexpected error from the publisher")
        failure = f"{type(err).__name__}: {err}"
    finally:
        Deadlines.release(deadline)
    if deadline.expired:  # the store ended otherwise just as the deadline fired: take
        task.uncancel()  # its cancel back, as asyncio.timeout does
    return failure


def _unavailable(state: IngressState, label: str, detail: str) -> web.Response:
    state.metrics.count_request(503, label)
    rejection = Rejection(Reason.UNAVAILABLE, f"the event was not stored: {detail}")
    return web.Response(
        status=503,
        body=problem_body(rejection),
        content_type=PROBLEM_CONTENT_TYPE,
        headers={"Retry-After": str(state.settings.ingress.retry_after_s)},
    )


async def _too_large(
    request: web.Request, state: IngressState, received_at: int, what: str
) -> web.Response:
    limit = state.settings.ingress.max_body_bytes
    rejection = Rejection(
        Reason.BODY_TOO_LARGE, f"{what} exceeds the limit of {limit} bytes", field="body"
    )
    response = await _refuse(request, state, b"", rejection, received_at)
    # the rest of the body was never read: do not let aiohttp wait for it
    response.force_close()
    return response


async def _refuse(
    request: web.Request,
    state: IngressState,
    body: bytes,
    rejection: Rejection,
    received_at: int,
) -> web.Response:
    """Dead-letter the delivery, count and log it, and answer with a problem document."""
    record = deadletter_record(
        state.settings.topic.deadletter,
        body,
        rejection,
        request.headers.items(),
        received_at=received_at,
        path=request.path,
    )
    label = type_label(rejection.event_type)
    failure = await _store(state, [record])
    extra = {
        "reason": rejection.reason.value,
        "status": rejection.status,
        "field": rejection.field,
        "event_id": rejection.event_id,
        "event_type": rejection.event_type,
        "remote": request.remote,
    }
    if failure is not None:
        state.metrics.count_deadletter_failure(rejection.reason.value)
        log.error("refused delivery could not be dead-lettered", extra={**extra, "error": failure})
        if rejection.reason is not Reason.BODY_TOO_LARGE:
            # not recorded anywhere: ask the sender to come back rather than lose it
            return _unavailable(state, label, failure)
    else:
        state.metrics.count_deadlettered(rejection.reason.value)
    log.info("refused delivery", extra=extra)
    state.metrics.count_request(rejection.status, label)
    return web.Response(
        status=rejection.status,
        body=problem_body(rejection, instance=request.path),
        content_type=PROBLEM_CONTENT_TYPE,
    )


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving HTTP (its pid tells the processes of
    `--processes N` apart)."""
    return web.json_response({"status": "ok", "pid": os.getpid()})


async def readyz(request: web.Request) -> web.Response:
    """Ready when not shutting down and Kafka answers with metadata for our topics."""
    state = request.app[STATE]
    kafka = await state.store.ready()
    ready = kafka and not state.draining
    doc = {
        "ready": ready,
        "kafka": kafka,
        "draining": state.draining,
        "spoolDepth": state.spool.depth if state.spool else 0,
    }
    return web.json_response(doc, status=200 if ready else 503)


async def metrics_endpoint(request: web.Request) -> web.Response:
    """Prometheus text exposition of this app's registry."""
    registry = request.app[STATE].metrics.registry
    response = web.Response(body=generate_latest(registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response

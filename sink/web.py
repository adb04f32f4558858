"""The sink's HTTP side: /healthz, /readyz and /metrics, like the other services."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from wxcc_stream.sink.consumer import SinkStatus
from wxcc_stream.sink.metrics import SinkMetrics

STATUS = web.AppKey("status", SinkStatus)
METRICS = web.AppKey("metrics", SinkMetrics)


def build_web(status: SinkStatus, metrics: SinkMetrics) -> web.Application:
    """The app of the sink's web port."""
    app = web.Application()
    app[STATUS] = status
    app[METRICS] = metrics
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving HTTP."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready once the database is reachable and the tables caught up with the topics."""
    status = request.app[STATUS]
    ready = status.database_ok and status.caught_up
    doc = {
        "ready": ready,
        "database": status.database_ok,
        "caughtUp": status.caught_up,
        "lagRecords": status.lag,
        "error": status.error,
    }
    return web.json_response(doc, status=200 if ready else 503)


async def metrics_endpoint(request: web.Request) -> web.Response:
    """Prometheus text exposition of the sink's registry."""
    response = web.Response(body=generate_latest(request.app[METRICS].registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response

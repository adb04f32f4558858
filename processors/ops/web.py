"""Health, readiness and metrics on the worker's web port (Faust's own web server)."""

from __future__ import annotations

from typing import Any

from wxcc_stream.processors.ops.health import HealthWatch
from wxcc_stream.processors.ops.metrics import CONTENT_TYPE, WorkerMetrics

__all__ = ["readiness", "register_web"]


def readiness(app: Any, watch: HealthWatch) -> tuple[bool, dict[str, Any]]:
    """Ready: started, not rebalancing or recovering tables, and no stalled partition."""
    stalled = [h.to_dict() for h in watch.health if h.stalled]
    recovering = bool(getattr(app, "in_recovery", False))
    rebalancing = bool(getattr(app, "rebalancing", False))
    started = bool(app.started) and app.consumer is not None
    ready = started and not recovering and not rebalancing and not stalled
    doc = {
        "ready": ready,
        "started": started,
        "rebalancing": rebalancing,
        "recovering": recovering,
        "stalled": stalled,
        "partitions": [h.to_dict() for h in watch.health],
    }
    return ready, doc


def register_web(app: Any, watch: HealthWatch, metrics: WorkerMetrics) -> None:
    """Add `/healthz`, `/readyz` and `/metrics` to the app's web server."""

    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    async def readyz(web: Any, request: Any) -> Any:
        ready, doc = readiness(app, watch)
        return web.json(doc, status=200 if ready else 503)

    async def exposition(web: Any, request: Any) -> Any:
        return web.bytes(metrics.exposition(), content_type=CONTENT_TYPE)

    app.page("/healthz", name="wxcc-healthz")(healthz)
    app.page("/readyz", name="wxcc-readyz")(readyz)
    app.page("/metrics", name="wxcc-metrics")(exposition)

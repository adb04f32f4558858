"""Health, readiness and metrics on the worker's web port (Faust's own web server)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wxcc_stream.processors.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from wxcc_stream.processors.agents import ShellContext

__all__ = ["readiness", "register_web"]


def readiness(app: Any, context: ShellContext) -> tuple[bool, dict[str, Any]]:
    """Ready: started, not rebalancing or recovering tables, and no stalled partition."""
    stalled = [h.to_dict() for h in context.health if h.stalled]
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
        "partitions": [h.to_dict() for h in context.health],
    }
    return ready, doc


def register_web(app: Any, context: ShellContext) -> None:
    """Add `/healthz`, `/readyz` and `/metrics` to the app's web server."""

    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    async def readyz(web: Any, request: Any) -> Any:
        ready, doc = readiness(app, context)
        return web.json(doc, status=200 if ready else 503)

    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(context.metrics.exposition(), content_type=CONTENT_TYPE)

    app.page("/healthz", name="wxcc-healthz")(healthz)
    app.page("/readyz", name="wxcc-readyz")(readyz)
    app.page("/metrics", name="wxcc-metrics")(metrics)

"""Run the sink and its web port until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from wxcc_stream.base.event_loop import loop_factory
from wxcc_stream.base.settings import Settings
from wxcc_stream.sink.consumer import ProjectionSink
from wxcc_stream.sink.errors import SinkError
from wxcc_stream.sink.metrics import SinkMetrics
from wxcc_stream.sink.store import Store
from wxcc_stream.sink.web import build_web

log = logging.getLogger("sink")


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Sink until `stop` is set (or SIGINT/SIGTERM when none is given)."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    metrics = SinkMetrics()
    sink = ProjectionSink(settings, Store(settings.sink.dsn), metrics)
    runner = web.AppRunner(build_web(sink.status, metrics), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.sink.host, settings.sink.port).start()
        log.info("health and metrics on http://%s:%d", settings.sink.host, settings.sink.port)
        await sink.run(stop)
    finally:
        await runner.cleanup()


def run_sink(settings: Settings) -> int:
    """Blocking entry point (uvloop when installed); the process exit code."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        try:
            runner.run(serve(settings))
        except OSError as err:
            log.error("sink could not listen: %s", err)
            return 1
        except SinkError as err:
            log.error("sink stopped: %s", err)
            return 1
    return 0

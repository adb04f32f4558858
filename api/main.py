"""Run the API until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from wxcc_stream.api.app import build_app
from wxcc_stream.api.kafka_feed import KafkaFeed
from wxcc_stream.api.metrics import ApiMetrics
from wxcc_stream.base.event_loop import loop_factory
from wxcc_stream.base.gc_tuning import tune_garbage_collector
from wxcc_stream.base.restart import RESTART_EXIT_CODE
from wxcc_stream.base.settings import Settings

log = logging.getLogger("api")


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_listening: Callable[[str], None] | None = None,
) -> int:
    """Serve until `stop` is set (or SIGINT/SIGTERM when none is given), or until another
    generation is promoted (then `RESTART_EXIT_CODE`, else 0)."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    promoted = asyncio.Event()

    def on_promote() -> None:
        promoted.set()
        stop.set()

    app = build_app(settings, feed=KafkaFeed(settings, ApiMetrics(), on_promote))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.api.host, settings.api.port)
        await site.start()
        url = f"http://{settings.api.host}:{settings.api.port}"
        log.info("listening on %s (wallboard %s/wallboard)", url, url)
        tune_garbage_collector()
        if on_listening is not None:
            on_listening(url)
        await stop.wait()
    finally:
        await runner.cleanup()
    return RESTART_EXIT_CODE if promoted.is_set() else 0


def run_api(settings: Settings) -> int:
    """Blocking entry point; the process exit code."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        try:
            return runner.run(serve(settings))
        except OSError as err:
            log.error("api could not listen: %s", err)
            return 1

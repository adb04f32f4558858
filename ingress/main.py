"""Run the ingress until SIGINT/SIGTERM, then shut down without losing an acknowledged event."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable

from aiohttp import web

from wxcc_stream.base.event_loop import loop_factory
from wxcc_stream.base.gc_tuning import tune_garbage_collector
from wxcc_stream.base.settings import Settings
from wxcc_stream.ingress.app import build_app
from wxcc_stream.ingress.errors import IngressError

log = logging.getLogger("ingress")


def shutdown_timeout_s(settings: Settings) -> float:
    """How long in-flight deliveries may take to finish at shutdown (a publish deadline,
    with margin)."""
    return settings.ingress.publish_deadline_ms / 1000 * 2 + 1.0


async def serve(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_listening: Callable[[str], None] | None = None,
    tune_gc: bool = False,
    reuse_port: bool = False,
) -> None:
    """Serve until `stop` is set (or SIGINT/SIGTERM when none is given), then shut down:
    stop accepting, let in-flight deliveries finish, flush the producer, close.
    `tune_gc` (the ingress process, not a test) tunes the collector once listening;
    `reuse_port` (one of several ingress processes) shares the port (SO_REUSEPORT)."""
    app = build_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout_s(settings))
    await runner.setup()
    try:
        site = web.TCPSite(
            runner,
            settings.ingress.host,
            settings.ingress.port,
            backlog=1024,
            reuse_port=reuse_port or None,
        )
        await site.start()
        url = f"http://{settings.ingress.host}:{settings.ingress.port}{settings.ingress.path}"
        log.info("listening", extra={"url": url})
        if tune_gc:
            tune_garbage_collector()
        if on_listening is not None:
            on_listening(url)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def run_ingress(settings: Settings, *, reuse_port: bool = False, process_index: int = 0) -> int:
    """Blocking entry point (uvloop when installed); the process exit code. `reuse_port`
    and `process_index`: one of `--processes N` (see ingress.processes)."""
    factory = loop_factory()
    log.info(
        "event loop: %s",
        "uvloop" if factory else "asyncio",
        extra={"ingress_process": process_index, "ingress_pid": os.getpid()},
    )
    with asyncio.Runner(loop_factory=factory) as runner:
        try:
            runner.run(serve(settings, tune_gc=True, reuse_port=reuse_port))
        except IngressError as err:
            log.error("ingress could not start: %s", err)
            return 1
        except OSError as err:
            log.error("ingress could not listen: %s", err)
            return 1
    return 0

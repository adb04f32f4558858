"""The event loop every service runs on: uvloop when installed (most of the per-record
cost of Faust and aiohttp is event-loop work), else asyncio's own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["loop_factory", "new_event_loop"]


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when uvloop is installed, else None (the default loop)."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop of `loop_factory`, set as the current one (for Faust's worker)."""
    factory = loop_factory()
    loop = factory() if factory is not None else asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return loop

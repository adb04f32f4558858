"""The shared publish deadline: one timer cancels the waits still running past it."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.test_ingress_support import ingress_settings
from wxcc_stream.base.settings import load_settings
from wxcc_stream.ingress.app import STATE, _store, build_app
from wxcc_stream.ingress.deadline import Deadlines
from wxcc_stream.ingress.memory import MemoryPublisher
from wxcc_stream.ingress.records import OutRecord


async def wait_for(deadlines: Deadlines, seconds: float, ended: list[float]) -> str:
    """Sleep `seconds` under the deadline: 'done', or 'expired' when it cancelled us."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    wait = deadlines.watch(task)
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        assert wait.expired
        task.uncancel()
        return "expired"
    finally:
        Deadlines.release(wait)
        ended.append(loop.time())
    assert not wait.expired
    return "done"


async def test_only_the_waits_still_running_at_their_deadline_are_cancelled() -> None:
    deadlines = Deadlines(0.5)
    ended: list[float] = []
    outcomes = await asyncio.gather(
        wait_for(deadlines, 0.01, ended),
        wait_for(deadlines, 5.0, ended),
        wait_for(deadlines, 0.02, ended),
    )
    assert list(outcomes) == ["done", "expired", "done"]
    deadlines.close()


async def test_each_wait_expires_at_its_own_deadline_never_before() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(0.2)
    started = loop.time()
    first_end: list[float] = []
    second_end: list[float] = []
    first = asyncio.create_task(wait_for(deadlines, 5.0, first_end))
    await asyncio.sleep(0.1)
    second_started = loop.time()
    second = asyncio.create_task(wait_for(deadlines, 5.0, second_end))
    assert list(await asyncio.gather(first, second)) == ["expired", "expired"]
    # the timer set for the first deadline moved on to the second one's
    assert 0.2 <= first_end[0] - started < 2.0
    assert 0.2 <= second_end[0] - second_started < 2.0
    assert deadlines.held == 0
    deadlines.close()


async def test_ended_waits_are_not_held_until_their_deadline() -> None:
    # a deadline's worth of requests kept alive would outlive young GC generations
    deadlines = Deadlines(60.0)
    ended: list[float] = []
    for _ in range(1000):
        assert await wait_for(deadlines, 0, ended) == "done"
    assert deadlines.held <= 1
    deadlines.close()


async def test_close_stops_the_timer() -> None:
    deadlines = Deadlines(0.02)
    task = asyncio.current_task()
    assert task is not None
    deadlines.watch(task)
    deadlines.close()
    await asyncio.sleep(0.05)  # would have been cancelled here
    assert deadlines.held == 0


class Stuck(MemoryPublisher):
    """A publisher whose `publish` never returns."""

    async def publish(self, records: object) -> None:
        await asyncio.Event().wait()


RECORD = OutRecord("raw", b"k", b"{}")


async def test_the_store_deadline_is_a_failure_to_report() -> None:
    settings = ingress_settings(load_settings({}), publish_deadline_ms=50)
    state = build_app(settings, publisher=Stuck())[STATE]
    assert await _store(state, [RECORD]) == "not stored within 50 ms"
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0  # its cancel was taken back
    state.deadlines.close()


async def test_another_cancel_of_the_request_stays_a_cancel() -> None:
    settings = ingress_settings(load_settings({}), publish_deadline_ms=5000)
    state = build_app(settings, publisher=Stuck())[STATE]
    storing = asyncio.create_task(_store(state, [RECORD]))
    await asyncio.sleep(0.01)
    storing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await storing
    state.deadlines.close()

"""Age (issue 13): a reconciled task summary still corrects a task whose history the
worker has compacted away, however old it is; a repeat changes nothing; a summary
without the reconciled marker, and any other event, is still refused as beyond the
retained history; the correction survives the table value's round trip."""

from __future__ import annotations

from typing import Any

import pytest
from msgspec.structs import replace

from tests.unit.event_builders import TASK, leg_event, task_event
from wxcc_stream.processors.core.log import EntityLog, new_log, projection
from wxcc_stream.processors.core.outcome import BeyondReason
from wxcc_stream.processors.core.policy import Policy
from wxcc_stream.processors.core.step import accept, accept_many, release_due
from wxcc_stream.processors.storage.log_value import decode_log, encode_log
from wxcc_stream.schemas.event import EntityKind, Event

DAY_MS = 86_400_000
POLICY = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=6 * 3_600_000)


def _compacted(wrap_up_ms: int = 0) -> EntityLog:
    """A task that ended a day ago with one hold whose webhook was lost; compacted.
    `wrap_up_ms`: its agent's wrap-up ends that long after the end (its newest event)."""
    events = [
        task_event("task:new", 0, "n"),
        task_event("task:connected", 50, "c"),
        task_event("task:ended", 500, "x"),
    ]
    if wrap_up_ms:
        events.append(leg_event("wrapup-done", 500 + wrap_up_ms, "w"))
    log, _ = accept_many(new_log(EntityKind.TASK, TASK), events, now_ms=1_000, policy=POLICY)
    log, out = release_due(log, now_ms=1_000 + POLICY.horizon_ms, policy=POLICY)
    assert out.compacted
    return log


def _summary(ce_id: str = "s", *, reconciled: bool = True, **facts: Any) -> Event:
    event = task_event("task:reconciled", 500, ce_id, status="ended", endedTime=500, **facts)
    return replace(event, reconciled=reconciled)


@pytest.mark.parametrize("wrap_up_ms", [0, POLICY.horizon_ms + 1])
def test_a_day_old_summary_corrects_a_compacted_task(wrap_up_ms: int) -> None:
    """Also when the summary (at the task's end) is older than the horizon behind the
    task's newest event, a wrap-up that ended much later."""
    log = _compacted(wrap_up_ms)
    before = projection(log)
    assert before["holdCount"] == 0
    now = DAY_MS
    log, out = accept(log, _summary(holdCount=1, holdMs=120), now_ms=now, policy=POLICY)
    assert out.changed
    assert [e.ce_id for e in out.late] == ["s"]
    assert not out.beyond_horizon
    after = projection(log)
    assert (after["holdCount"], after["holdMs"]) == (1, 120)
    assert after["revision"] == before["revision"] + 1
    assert after["lastEventTime"] == before["lastEventTime"]
    # the table value keeps it
    assert projection(decode_log(encode_log(log))) == after
    # a repeat (another id, same facts) changes nothing and is not refused
    same, out = accept(log, _summary("s2", holdCount=1, holdMs=120), now_ms=now, policy=POLICY)
    assert projection(same) == after
    assert not out.changed
    assert not out.beyond_horizon


def test_other_old_events_and_unmarked_summaries_are_still_refused() -> None:
    log = _compacted()
    forged = _summary(holdCount=3, reconciled=False)
    hold = replace(task_event("task:on-hold", 100, "h"), reconciled=True)
    # a reconciled event of another type whose data has a final fact's name is no summary
    ended = replace(task_event("task:ended", 100, "e", queueId="q9"), reconciled=True)
    for event in (forged, hold, ended):
        same, out = accept(log, event, now_ms=DAY_MS, policy=POLICY)
        assert [b.reason for b in out.beyond_horizon] == [BeyondReason.COMPACTED]
        assert projection(same) == projection(log)


def test_a_summary_behind_a_retained_history_corrects_it_and_refolds_stay_consistent() -> None:
    """A task whose end was lost keeps its history (it never ends, so it is never
    compacted); its summary is older than the horizon behind its newest event. Later
    events, late or not, fold on top of the corrected state."""
    policy = Policy(grace_ms=0, flush_timeout_ms=1_000, horizon_ms=1_000)
    events = [
        task_event("task:new", 0, "n"),
        task_event("task:connected", 50, "c"),
        leg_event("connected", 60, "l1"),
        leg_event("wrapup", 5_000, "l2"),
        leg_event("wrapup-done", 6_000, "l3"),
    ]
    log, _ = accept_many(new_log(EntityKind.TASK, TASK), events, now_ms=1, policy=policy)
    assert log.history  # not compacted: the task never ended here
    summary = replace(
        task_event("task:reconciled", 500, "s", status="ended", endedTime=500, holdCount=2),
        reconciled=True,
    )
    log, out = accept(log, summary, now_ms=2, policy=policy)
    assert [e.ce_id for e in out.late] == ["s"]
    doc = projection(log)
    assert (doc["status"], doc["endedTime"], doc["holdCount"]) == ("ended", 500, 2)
    # a late event inside the retained history refolds from the (corrected) base
    late = leg_event("wrapup", 5_500, "l4", agent="agent-2")
    log, out = accept(log, late, now_ms=3, policy=policy)
    assert [e.ce_id for e in out.late] == ["l4"]
    after = projection(log)
    assert (after["status"], after["holdCount"]) == ("ended", 2)
    assert after["revision"] == doc["revision"] + 1
    assert projection(decode_log(encode_log(log))) == after

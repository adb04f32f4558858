"""The reconciliation job's pure parts: the window plan and its resumption, the window and
run figures (webhook loss rate), and the disagreement diff per entity and field."""

from __future__ import annotations

import pytest

from wxcc_stream.reconcile.diff import agent_disagreements, task_disagreements
from wxcc_stream.reconcile.job import (
    ROLLING_KEY,
    Checkpoint,
    Known,
    PlanRequest,
    Summary,
    WindowResult,
    checkpoint_after,
    plan,
    remember,
)
from wxcc_stream.reconcile.windows import Window

H = 3_600_000
NOW = 100 * H


def _request(**changes: int | None) -> PlanRequest:
    base = PlanRequest(now_ms=NOW, settle_ms=H, lookback_ms=24 * H, window_ms=H)
    return PlanRequest(**{**_fields(base), **changes})  # type: ignore[arg-type]


def _fields(r: PlanRequest) -> dict[str, int | None]:
    return {
        "now_ms": r.now_ms,
        "settle_ms": r.settle_ms,
        "lookback_ms": r.lookback_ms,
        "window_ms": r.window_ms,
        "since": r.since,
        "until": r.until,
    }


@pytest.mark.parametrize(
    ("request_", "checkpoint", "start", "end", "resumed"),
    [
        # rolling, first run: a day back from now - settle
        (_request(), None, NOW - 25 * H, NOW - H, None),
        # rolling: from the checkpoint
        (_request(), Checkpoint(NOW - 3 * H), NOW - 3 * H, NOW - H, NOW - 3 * H),
        # rolling, nothing settled since the checkpoint: no window
        (_request(), Checkpoint(NOW - H), NOW - H, NOW - H, NOW - H),
        # a range: as asked, whatever the checkpoint of an earlier finished run
        (_request(since=10 * H, until=14 * H), Checkpoint(14 * H, True), 10 * H, 14 * H, None),
        # a range that did not finish: resumes
        (_request(since=10 * H, until=14 * H), Checkpoint(12 * H), 12 * H, 14 * H, 12 * H),
        # --since only: to now - settle
        (_request(since=90 * H), None, 90 * H, NOW - H, None),
    ],
)
def test_plan(
    request_: PlanRequest, checkpoint: Checkpoint | None, start: int, end: int, resumed: int | None
) -> None:
    got = plan(request_, checkpoint)
    assert (got.start, got.end, got.resumed_from) == (start, end, resumed)
    assert got.windows == tuple(Window(t, min(t + H, end)) for t in range(start, end, H))


def test_checkpoint_keys_and_values() -> None:
    assert plan(_request(), None).key == ROLLING_KEY
    ranged = plan(_request(since=1, until=2), None)
    assert ranged.key == "range:1:2"
    assert checkpoint_after(ranged, ranged.windows[-1]) == Checkpoint(2, done=True)
    assert Checkpoint.from_json(Checkpoint(5, True).to_json()) == Checkpoint(5, True)
    with pytest.raises(ValueError, match="not a reconcile checkpoint"):
        Checkpoint.from_json(b"{}")


def test_a_webhook_is_never_downgraded_to_a_reconciliation() -> None:
    known: dict[tuple[object, ...], Known] = {}
    remember(known, ("a",), Known.WEBHOOK)
    remember(known, ("a",), Known.RECONCILED)
    remember(known, ("b",), Known.RECONCILED)
    remember(known, ("b",), Known.WEBHOOK)
    assert known == {("a",): Known.WEBHOOK, ("b",): Known.WEBHOOK}


def test_loss_rate_is_the_share_no_webhook_delivered() -> None:
    w = WindowResult(Window(0, H), 10, 2, 1, events=20, by_webhook=15, by_reconcile=4, injected=1)
    assert (w.records, w.known, w.loss_rate) == (13, 19, 0.25)
    empty = WindowResult(Window(H, 2 * H), 0, 0, 0, 0, 0, 0, 0)
    summary = Summary(plan(_request(), None), windows=[w, empty])
    assert summary.loss_rate == 0.25
    assert summary.total("injected") == 1
    assert "loss rate 25.00%" in summary.lines()[0]


TASK = {
    "id": "t1",
    "isActive": False,
    "createdTime": 1000,
    "endedTime": 9000,
    "holdCount": 2,
    "consultCount": 0,
    "conferenceCount": 0,
    "lastQueue": {"id": "q1"},
    "terminatingEnd": "agent",
    "terminationReason": "normal",
}
DOC = {
    "taskId": "t1",
    "status": "ended",
    "endedTime": 9000,
    "holdCount": 2,
    "consultCount": 0,
    "conferenceCount": 0,
    "queueId": "q1",
    "terminatingParty": "Agent",
    "reason": "normal",
    "captures": ["https://x/a.wav"],
}
REC = {"attributes": {"filePath": "https://x/a.wav?Expires=1&Signature=2"}}


@pytest.mark.parametrize(
    ("doc_changes", "fields"),
    [
        ({}, []),
        ({"status": "connected", "endedTime": None}, ["status", "endedTime"]),
        ({"holdCount": 1}, ["holdCount"]),
        ({"queueId": "q0"}, ["queueId"]),
        ({"captures": []}, ["captures"]),
    ],
)
def test_task_disagreements(doc_changes: dict[str, object], fields: list[str]) -> None:
    got = task_disagreements([TASK], {"t1": [REC]}, {"t1": {**DOC, **doc_changes}})
    assert [d.field for d in got] == fields


def test_a_missing_task_and_an_open_one() -> None:
    assert [d.field for d in task_disagreements([TASK], {}, {})] == ["missing"]
    open_task = {**TASK, "isActive": True, "endedTime": None}
    assert task_disagreements([open_task], {}, {"t1": {"status": "connected"}}) == []


def test_agent_disagreements_look_at_the_last_row_only_if_nothing_newer_was_folded() -> None:
    rows = [
        {"agentId": "a1", "startTime": 100, "currentState": "idle", "isLogin": 1},
        {"agentId": "a1", "startTime": 200, "currentState": "logout"},
        {"agentId": "a2", "startTime": 150, "currentState": "available"},
    ]
    docs = {"a1": {"loggedIn": True, "lastEventTime": 180}}
    got = agent_disagreements(rows, docs)
    assert [(d.entity_id, d.field, d.api) for d in got] == [
        ("a1", "loggedIn", False),
        ("a2", "missing", "a2"),
    ]
    newer: dict[str, dict[str, object]] = {
        "a1": {"loggedIn": True, "lastEventTime": 300},
        "a2": {"loggedIn": True},
    }
    assert agent_disagreements(rows, newer) == []

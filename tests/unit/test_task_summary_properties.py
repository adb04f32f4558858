"""The authoritative task summary (`task:reconciled`, docs/projections.md): folded with a
task's webhooks, some of them lost, in any order and with duplicates, the document shows
the generator's ground truth on every field the summary fixes (its recordings included),
and the same bytes whatever the order; a summary without the reconciled marker fixes
nothing."""

from __future__ import annotations

import random
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.contract_fold import contract_fold
from wxcc_stream.devtools.scenario import Scenario, ScenarioConfig, generate
from wxcc_stream.devtools.wxcc_api.captures import capture_answer, recordings
from wxcc_stream.devtools.wxcc_api.day import ApiDay
from wxcc_stream.devtools.wxcc_api.tasks import task_histories, task_record
from wxcc_stream.projections.fold import document_bytes
from wxcc_stream.projections.task_lifecycle import evolve_task, initial_task, task_document
from wxcc_stream.projections.task_summary import FINAL_FIELDS
from wxcc_stream.reconcile.events import Origin, task_summary_event
from wxcc_stream.schemas.cloudevent import entity_keys, parse_event
from wxcc_stream.schemas.event import EntityKind, Event


@cache
def _day() -> Scenario:
    return generate(ScenarioConfig(seed=8, agents=8, tasks=60))


@cache
def _per_task() -> dict[str, tuple[list[Event], Event | None]]:
    """Each task's stream (its webhooks as parsed events) and its summary."""
    scenario = _day()
    origin = Origin(scenario.config.org_id, scenario.config.source)
    streams: dict[str, list[Event]] = {}
    for raw in scenario.events:
        event = parse_event(raw)
        for kind, entity in entity_keys(event):
            if kind is EntityKind.TASK:
                streams.setdefault(entity, []).append(event)
    end = ApiDay(scenario).end_ms
    known = recordings(scenario)
    out = {}
    for history in task_histories(scenario):
        (answer,) = capture_answer(
            [history.task_id], known, now_ms=end, issued_ms=0, url_expiration_min=60, key=b"k"
        )
        record = task_record(history, scenario.directory, end)
        summary = task_summary_event(record, origin, answer["recording"])
        out[history.task_id] = (
            streams[history.task_id],
            None if summary is None else parse_event(summary),
        )
    return out


def _fold(task_id: str, events: list[Event]) -> dict[str, Any]:
    return contract_fold(EntityKind.TASK, task_id, events, initial_task, evolve_task, task_document)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), drop=st.floats(0.0, 0.5))
def test_summary_restores_final_facts_whatever_was_lost_and_in_any_order(
    seed: int, drop: float
) -> None:
    rng = random.Random(seed)
    truth = _day().task_truth
    for task_id, (events, summary) in sorted(_per_task().items()):
        assert summary is not None  # the day is over: every record is final
        kept = [e for e in events if rng.random() >= drop]
        delivered = [*kept, summary, *rng.sample(kept, k=len(kept) // 3), summary]
        rng.shuffle(delivered)
        doc = _fold(task_id, delivered)
        want = {f: truth[task_id][f] for f in FINAL_FIELDS}
        assert {f: doc[f] for f in FINAL_FIELDS} == want, task_id
        rng.shuffle(delivered)
        assert document_bytes(_fold(task_id, delivered)) == document_bytes(doc)


def test_summary_changes_nothing_when_nothing_was_lost_but_its_count() -> None:
    truth = _day().task_truth
    for task_id, (events, summary) in _per_task().items():
        assert summary is not None
        doc = _fold(task_id, [*events, summary])
        bookkeeping = {"revision", "lastEventId", "lastEventTime"}
        assert {k: v for k, v in doc.items() if k not in bookkeeping} == {
            k: v for k, v in truth[task_id].items() if k not in bookkeeping
        }
        assert doc["revision"] == truth[task_id]["revision"] + 1


def test_a_summary_without_the_reconciled_marker_fixes_nothing() -> None:
    task_id, (events, summary) = next(iter(_per_task().items()))
    assert summary is not None
    forged = Event.from_dict({**summary.to_dict(), "reconciled": False})
    without_hold = [e for e in events if e.type != "task:ended"]
    assert _fold(task_id, [*without_hold, forged])["status"] != "ended"


def test_the_summary_adds_recordings_and_takes_none_away() -> None:
    with_captures = [(t, s) for t, (_, s) in _per_task().items() if s and "captures" in s.data]
    assert with_captures
    task_id, summary = with_captures[0]
    events = _per_task()[task_id][0]
    without = [e for e in events if e.type != "capture:available"]
    assert _fold(task_id, [*without, summary])["captures"] == _day().task_truth[task_id]["captures"]
    # a recording the API does not list (yet) stays
    other = Event.from_dict(
        {**events[0].to_dict(), "type": "capture:available", "id": "c-extra",
         "data": {"taskId": task_id, "filePath": "https://x/extra.wav"}}
    )  # fmt: skip
    got = _fold(task_id, [*events, other, summary])["captures"]
    assert got == sorted({*summary.data["captures"], "https://x/extra.wav"})

"""The authoritative task summary at its edges (docs/projections.md, "The authoritative task
summary"): what counts as a summary, a malformed `captures`, and a summary arriving after
the task was compacted to its final projection (docs/reconciliation.md, "Age")."""

from __future__ import annotations

from typing import Any

import pytest
from msgspec.structs import replace

from tests.unit.event_builders import task_event
from wxcc_stream.projections import (
    evolve_task,
    fold,
    initial_task,
    task_document,
    task_from_dict,
    task_to_dict,
)
from wxcc_stream.projections.states import TaskLifecycle
from wxcc_stream.projections.task_lifecycle import summary_on_final
from wxcc_stream.projections.task_summary import summary_facts
from wxcc_stream.schemas.event import Event

FACTS: dict[str, Any] = {
    "status": "ended",
    "endedTime": 9_000,
    "queueId": "q-api",
    "holdCount": 2,
    "holdMs": 1_500,
    "terminatingParty": "agent",
}


def _summary(ce_id: str = "s-1", t: int = 9_000, **data: Any) -> Event:
    return replace(task_event("task:reconciled", t, ce_id, **data), reconciled=True)


def _ended_task() -> TaskLifecycle:
    """A task folded from its webhooks, its hold lost: one hold fewer than the API's."""
    events = [
        task_event("task:new", 1_000, "n", queueId="q-1"),
        task_event("task:connect", 2_000, "c"),
        task_event("task:connected", 2_500, "cd"),
        task_event("task:on-hold", 3_000, "h"),
        task_event("task:hold-done", 4_500, "hd"),
        task_event("task:ended", 9_000, "e", terminatingParty="customer"),
    ]
    return fold(events, initial_task("task-1"), evolve_task)


@pytest.mark.parametrize(
    "type_",
    [
        # a lost webhook the reconciliation job injects: marked as wxcc-stream's own too
        "task:ended",
        "task:connected",
        "task:on-hold",
        # a type the contract does not name (WxCC adds some), on either side of the
        # summary's name
        "task:failed",
        "task:transferred",
    ],
)
def test_a_marked_event_of_another_type_carries_no_facts(type_: str) -> None:
    injected = replace(task_event(type_, 9_000, "i-1", **FACTS), reconciled=True)
    assert summary_facts(injected) == ()
    # so a late one reaching a compacted task changes nothing (it is not a summary)
    assert summary_on_final(_ended_task(), injected) is None


def test_a_summary_carries_the_final_fields_it_holds_and_nothing_else() -> None:
    summary = _summary(**FACTS, agentIds=["a-9"], newTime=1)
    assert dict(summary_facts(summary)) == FACTS


@pytest.mark.parametrize("captures", ["https://x/r.wav", ["https://x/r.wav", 7], {"a": "b"}, 3])
def test_a_captures_that_is_not_a_list_of_paths_is_left_out(captures: Any) -> None:
    summary = _summary(captures=captures, holdCount=2)
    assert dict(summary_facts(summary)) == {"holdCount": 2}
    state = evolve_task(_ended_task(), summary)
    document = task_document(state)
    assert document["captures"] == []
    assert document["holdCount"] == 2


def test_a_list_of_paths_is_kept() -> None:
    summary = _summary(captures=["https://x/b.wav", "https://x/a.wav"])
    assert dict(summary_facts(summary)) == {"captures": ["https://x/b.wav", "https://x/a.wav"]}
    assert task_document(evolve_task(_ended_task(), summary))["captures"] == [
        "https://x/a.wav",
        "https://x/b.wav",
    ]


def test_a_summary_after_compaction_corrects_the_final_projection_once() -> None:
    final = _ended_task()
    summary = _summary(**FACTS)
    corrected = summary_on_final(final, summary)
    assert corrected is not None
    assert corrected.revision == final.revision + 1
    document = task_document(corrected)
    assert {k: document[k] for k in FACTS} == FACTS
    # everything the summary does not fix is the fold's, the bookkeeping included
    before = task_document(final)
    unchanged = set(before) - set(FACTS) - {"revision"}
    assert {k: document[k] for k in unchanged} == {k: before[k] for k in unchanged}
    # a repeat changes nothing
    assert summary_on_final(corrected, summary) is None
    assert summary_on_final(corrected, _summary("s-2", **FACTS)) is None
    # ... unless the caller needs the revision anyway (the compacted base)
    again = summary_on_final(corrected, summary, always=True)
    assert again is not None
    assert again.revision == corrected.revision + 1
    assert task_document(again) | {"revision": 0} == document | {"revision": 0}


@pytest.mark.parametrize("holds", [1, 3])
def test_a_newer_summary_after_compaction_overrides_the_older_facts(holds: int) -> None:
    corrected = summary_on_final(_ended_task(), _summary(**FACTS))
    assert corrected is not None
    newer = summary_on_final(corrected, _summary("s-2", t=9_000, holdCount=holds))
    assert newer is not None
    assert newer.revision == corrected.revision + 1
    document = task_document(newer)
    assert document["holdCount"] == holds
    assert document["holdMs"] == FACTS["holdMs"]


@pytest.mark.parametrize("always", [False, True])
def test_a_summary_without_facts_or_marker_changes_nothing_after_compaction(
    always: bool,
) -> None:
    final = _ended_task()
    assert summary_on_final(final, _summary(agentIds=["a-9"]), always=always) is None
    unmarked = replace(_summary(**FACTS), reconciled=False)
    assert summary_on_final(final, unmarked, always=always) is None


def test_the_facts_survive_the_table_form() -> None:
    """A table value keeps the facts, so a restarted worker shows the corrected task."""
    corrected = evolve_task(_ended_task(), _summary(**FACTS, captures=["https://x/r.wav"]))
    stored = task_to_dict(corrected)
    assert task_from_dict(stored) == corrected
    assert task_document(task_from_dict(stored)) == task_document(corrected)
    # a task without a summary stores no facts at all
    assert "final" not in task_to_dict(_ended_task())
    assert task_from_dict(task_to_dict(_ended_task())) == _ended_task()

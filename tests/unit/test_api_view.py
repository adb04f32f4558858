"""The API's materialised view: the highest revision per key wins, indexes follow."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.api_docs import agent_doc, raw, task_doc
from wxcc_stream.api.entries import Kind
from wxcc_stream.api.errors import BadDocument
from wxcc_stream.api.view import View


def test_a_lower_revision_never_replaces_a_higher_one() -> None:
    view = View()
    assert view.apply(Kind.AGENT, "a1", raw(agent_doc("a1", revision=5, state="idle")))
    assert view.apply(Kind.AGENT, "a1", raw(agent_doc("a1", revision=4, state="ringing"))) is None
    held = view.agent("a1")
    assert held is not None
    assert (held.revision, held.state) == (5, "idle")
    # the same bytes again (a replay after a worker restart) change nothing
    assert view.apply(Kind.AGENT, "a1", raw(agent_doc("a1", revision=5, state="idle"))) is None
    assert view.apply(Kind.AGENT, "a1", raw(agent_doc("a1", revision=6, state="wrapup")))
    assert view.agents.indexes["state"].buckets == {"wrapup": {"a1"}}


def test_indexes_move_with_the_document() -> None:
    view = View()
    view.apply(Kind.TASK, "t1", raw(task_doc("t1", queueId="q1", status="parked")))
    view.apply(Kind.TASK, "t2", raw(task_doc("t2", queueId="q1", status="connected")))
    view.apply(Kind.TASK, "t1", raw(task_doc("t1", revision=9, queueId="q2", status="ended",
                                             endedTime=5_000)))  # fmt: skip
    tasks = view.tasks
    assert tasks.indexes["queue"].buckets == {"q1": {"t2"}, "q2": {"t1"}}
    assert tasks.indexes["status"].buckets == {"connected": {"t2"}, "ended": {"t1"}}
    assert list(tasks.times["ended"].between(5_000, 5_001)) == ["t1"]
    assert list(tasks.times["ended"].between(None, 5_000)) == []
    assert tasks.times["ended"].count_between(0, None) == 1


@pytest.mark.parametrize(
    "value",
    [b"not json", b"[1]", b'{"state": "idle"}', b'{"revision": "3", "state": "idle"}'],
)
def test_a_record_that_is_not_a_document_is_refused(value: bytes) -> None:
    with pytest.raises(BadDocument):
        View().apply(Kind.AGENT, "a1", value)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a1", "a2", "a3"]),
            st.integers(1, 6),
            st.sampled_from(["idle", "available", "ringing"]),
        ),
        max_size=30,
    ),
    st.randoms(),
)
def test_any_arrival_order_gives_the_highest_revision_per_key(records, rnd) -> None:  # type: ignore[no-untyped-def]
    """Documents of one key with one revision are equal (the worker's contract), so the
    result is a function of the set of records, whatever their order or repetition."""
    docs = {(k, r): agent_doc(k, revision=r, state=s) for k, r, s in records}
    # one document per (key, revision), like the worker's
    ordered = [docs[(k, r)] for k, r, _ in records]
    shuffled = list(ordered)
    rnd.shuffle(shuffled)
    results = []
    for sequence in (ordered, shuffled + ordered[:3]):
        view = View()
        for doc in sequence:
            view.apply(Kind.AGENT, doc["agentId"], raw(doc))
        results.append({k: e.raw for k, e in view.agents.entries.items()})
        for state, keys in view.agents.indexes["state"].buckets.items():
            assert all(view.agents.entries[k].state == state for k in keys)
    best = {}
    for (k, r), doc in docs.items():
        if k not in best or r > best[k]["revision"]:
            best[k] = doc
    assert results[0] == results[1] == {k: raw(d) for k, d in best.items()}

"""List filters and cursor pagination, stable while the documents change between pages."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.api_docs import agent_doc, raw, task_doc
from wxcc_stream.api.auth import EVERYTHING, Scope
from wxcc_stream.api.entries import Kind
from wxcc_stream.api.errors import BadQuery
from wxcc_stream.api.queries import (
    AgentQuery,
    TaskQuery,
    agent_page,
    decode_cursor,
    encode_cursor,
    parse_agent_query,
    parse_limit,
    parse_task_query,
    task_page,
)
from wxcc_stream.api.view import View

STATES = ("idle", "available", "connected")
TEAMS = ("t1", "t2")


def _all_pages(view: View, query: AgentQuery, scope: Scope, limit: int) -> list[str]:
    keys: list[str] = []
    after = None
    for _ in range(100):
        page = agent_page(view.agents, query, scope, after, limit)
        keys += [e.key for e in page.entries]
        if page.next_after is None:
            return keys
        after = decode_cursor(query, encode_cursor(query, page.next_after))
    raise AssertionError(f"pagination did not end: {keys[:20]}")


def test_filters_and_scope_select_the_agents() -> None:
    view = View()
    for i, (team, state, logged_in) in enumerate(
        [("t1", "idle", True), ("t1", "available", True), ("t2", "idle", True),
         ("t2", "logged-out", False), (None, "idle", True)]
    ):  # fmt: skip
        doc = agent_doc(f"a{i}", teamId=team, state=state, loggedIn=logged_in)
        view.apply(Kind.AGENT, f"a{i}", raw(doc))
    q = parse_agent_query({"state": "idle,available", "loggedIn": "true"})
    assert _all_pages(view, q, EVERYTHING, 2) == ["a0", "a1", "a2", "a4"]
    assert _all_pages(view, parse_agent_query({"team": "t2"}), EVERYTHING, 10) == ["a2", "a3"]
    scoped = Scope(teams=frozenset({"t1"}))
    assert _all_pages(view, AgentQuery(), scoped, 1) == ["a0", "a1"]
    assert _all_pages(view, parse_agent_query({"team": "nobody"}), EVERYTHING, 5) == []


def test_task_filters_by_time_ranges_and_fields() -> None:
    view = View()
    for i in range(10):
        doc = task_doc(f"t{i}", newTime=1000 * i, endedTime=1000 * i + 500 if i % 2 else None,
                       status="ended" if i % 2 else "parked", channelType=("chat", "email")[i % 2],
                       queueId=f"q{i % 3}")  # fmt: skip
        view.apply(Kind.TASK, f"t{i}", raw(doc))

    def keys(params: dict[str, str]) -> list[str]:
        query = parse_task_query(params)
        page = task_page(view.tasks, query, EVERYTHING, None, 100)
        assert page.next_after is None
        return [e.key for e in page.entries]

    assert keys({"createdFrom": "2000", "createdTo": "5000"}) == ["t2", "t3", "t4"]
    assert keys({"endedFrom": "3500"}) == ["t3", "t5", "t7", "t9"]
    assert keys({"endedTo": "3500", "channel": "email"}) == ["t1"]
    assert keys({"queue": "q0,q1", "status": "parked"}) == ["t0", "t4", "t6"]
    assert keys({"queue": "q2", "createdFrom": "5000"}) == ["t5", "t8"]
    assert Scope(queues=frozenset({"q1"})).allows(view.tasks.entries["t1"])
    page = task_page(view.tasks, TaskQuery(), Scope(queues=frozenset({"q1"})), None, 100)
    assert [e.key for e in page.entries] == ["t1", "t4", "t7"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"loggedIn": "yes"}, "loggedIn"),
        ({"teem": "t1"}, "teem"),
        ({"state": ","}, "state"),
    ],
)
def test_bad_agent_parameters_are_named(params: dict[str, str], parameter: str) -> None:
    with pytest.raises(BadQuery) as caught:
        parse_agent_query(params)
    assert caught.value.parameter == parameter


def test_bad_task_parameters_limits_and_cursors_are_named() -> None:
    with pytest.raises(BadQuery, match="createdFrom"):
        parse_task_query({"createdFrom": "10", "createdTo": "5"})
    with pytest.raises(BadQuery, match="endedTo"):
        parse_task_query({"endedTo": "noon"})
    with pytest.raises(BadQuery, match="limit"):
        parse_limit({"limit": "0"}, 100, 1000)
    assert parse_limit({}, 100, 1000) == 100
    cursor = encode_cursor(AgentQuery(team=frozenset({"t1"})), "a5")
    assert decode_cursor(AgentQuery(team=frozenset({"t1"})), cursor) == "a5"
    with pytest.raises(BadQuery, match="other filters"):
        decode_cursor(AgentQuery(), cursor)
    with pytest.raises(BadQuery, match="cursor"):
        decode_cursor(AgentQuery(), "!!!not-a-cursor")


_update = st.tuples(
    st.integers(0, 24), st.sampled_from(TEAMS), st.sampled_from(STATES)
)  # (agent number, team, state)


@given(
    initial=st.lists(_update, min_size=1, max_size=25),
    between=st.lists(st.lists(_update, max_size=6), max_size=12),
    limit=st.integers(1, 4),
    query=st.sampled_from(
        [AgentQuery(), AgentQuery(state=frozenset({"idle"})), AgentQuery(team=frozenset({"t1"})),
         AgentQuery(team=frozenset({"t2"}), state=frozenset({"available", "connected"}))]
    ),
)  # fmt: skip
def test_pages_stay_stable_while_documents_change(
    initial: list[Any], between: list[Any], limit: int, query: AgentQuery
) -> None:
    """No key twice, keys in order, and every agent that existed and matched all along
    is served exactly once, whatever changed (or was added) between the pages."""
    view, revisions = View(), {}

    def put(number: int, team: str, state: str) -> None:
        key = f"a{number:02d}"
        revisions[key] = revisions.get(key, 0) + 1
        doc = agent_doc(key, teamId=team, state=state, revision=revisions[key])
        view.apply(Kind.AGENT, key, raw(doc))

    for update in initial:
        put(*update)
    always = {k for k, e in view.agents.entries.items() if query.matches(e)}
    served: list[str] = []
    after = None
    rounds = iter(between)
    for _ in range(100):  # a cursor that does not advance must fail, not hang
        page = agent_page(view.agents, query, EVERYTHING, after, limit)
        served += [e.key for e in page.entries]
        if page.next_after is None:
            break
        after = page.next_after
        for update in next(rounds, []):
            put(*update)
            always &= {k for k, e in view.agents.entries.items() if query.matches(e)}
    else:
        raise AssertionError(f"pagination did not end: {served[:20]}")
    assert served == sorted(set(served))
    assert always <= set(served)

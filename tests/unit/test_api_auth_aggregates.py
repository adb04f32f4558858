"""Token scopes, and the supervisor's figures from hand-made documents."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from tests.unit.api_docs import agent_doc, raw, task_doc
from wxcc_stream.api.aggregates import queue_figures, since_midnight, task_figures, team_figures
from wxcc_stream.api.auth import EVERYTHING, Scope, authenticate, parse_tokens
from wxcc_stream.api.entries import AgentEntry, Kind, TaskEntry, decode_entry
from wxcc_stream.base.settings import SettingsError

TOKEN_A = "a" * 24
TOKEN_B = "b" * 24


def test_tokens_and_their_scopes() -> None:
    tokens = parse_tokens(f"{TOKEN_A}=*, {TOKEN_B}=team:t1|queue:q1|team:t2")
    assert tokens[TOKEN_A] is EVERYTHING
    assert tokens[TOKEN_B] == Scope(teams=frozenset({"t1", "t2"}), queues=frozenset({"q1"}))
    assert authenticate(f"Bearer {TOKEN_B}", tokens) == tokens[TOKEN_B]
    assert authenticate(f"bearer {TOKEN_A}", tokens) is EVERYTHING
    for header in (None, "", TOKEN_A, f"Basic {TOKEN_A}", "Bearer ", f"Bearer {TOKEN_A}x"):
        assert authenticate(header, tokens) is None
    assert tokens[TOKEN_B].outside(["t1", "t3"], ["q1", "q2"]) == ["team:t3", "queue:q2"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("short=*", "too short"),
        (f"{TOKEN_A}", "token=scope"),
        (f"{TOKEN_A}=site:x", "team:ID or queue:ID"),
        (f"{TOKEN_A}=", "empty scope"),
    ],
)
def test_bad_token_lists_are_refused_without_printing_the_token(spec: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        parse_tokens(spec)
    assert TOKEN_A not in str(caught.value)


def _agent(key: str, **fields: object) -> AgentEntry:
    entry = decode_entry(Kind.AGENT, key, raw(agent_doc(key, **fields)))
    assert isinstance(entry, AgentEntry)
    return entry


def _task(key: str, **fields: object) -> TaskEntry:
    entry = decode_entry(Kind.TASK, key, raw(task_doc(key, **fields)))
    assert isinstance(entry, TaskEntry)
    return entry


def test_team_figures_count_agents_per_state_and_time_in_state() -> None:
    agents = [
        _agent("a1", teamId="t1", state="idle", stateSince=1_000),
        _agent("a2", teamId="t1", state="idle", stateSince=4_000),
        _agent("a3", teamId="t1", state="logged-out", loggedIn=False, stateSince=2_000),
        _agent("a4", teamId="t2", state="connected", stateSince=9_000),
    ]
    t1, t2 = team_figures(agents, now_ms=10_000)
    assert t1 == {
        "teamId": "t1", "agents": 3, "loggedIn": 2,
        "states": {
            "idle": {"agents": 2, "longestTimeInStateMs": 9_000, "totalTimeInStateMs": 15_000},
            "logged-out": {"agents": 1, "longestTimeInStateMs": 8_000,
                           "totalTimeInStateMs": 8_000},
        },
    }  # fmt: skip
    assert t2["states"] == {
        "connected": {"agents": 1, "longestTimeInStateMs": 1_000, "totalTimeInStateMs": 1_000}
    }


def test_queue_figures_count_waiting_and_in_progress() -> None:
    live = [
        _task("w1", queueId="q1", status="parked", newTime=1_000, parkedTime=2_000),
        _task("w2", queueId="q1", status="new", newTime=3_000, parkedTime=None),
        _task("p1", queueId="q1", status="connected"),
        _task("p2", queueId="q2", status="on-hold"),
    ]
    q1, q2 = queue_figures(live, now_ms=10_000)
    assert q1 == {"queueId": "q1", "contactsInQueue": 2, "contactsInProgress": 1,
                  "longestContactInQueueMs": 8_000, "oldestQueuedSince": 2_000}  # fmt: skip
    assert (q2["contactsInQueue"], q2["contactsInProgress"], q2["longestContactInQueueMs"]) == (
        0, 1, None,
    )  # fmt: skip


def test_task_figures_follow_docs_api_md() -> None:
    ended = [
        # answered 10 s after parking: within the 20 s threshold; handled 60+5+10 s
        _task(
            "h1",
            status="ended",
            parkedTime=1_000,
            connectedTime=11_000,
            endedTime=76_000,
            talkMs=60_000,
            holdMs=5_000,
            wrapUpMs=10_000,
            queueWaitMs=8_000,
        ),
        # answered 30 s after parking: outside; handled 100 s
        _task(
            "h2",
            status="ended",
            parkedTime=1_000,
            connectedTime=31_000,
            endedTime=131_000,
            talkMs=100_000,
            holdMs=0,
            wrapUpMs=0,
            queueWaitMs=25_000,
        ),
        # abandoned in the queue
        _task("x1", status="ended", parkedTime=1_000, connectedTime=None, endedTime=50_000),
        # an outbound call nobody answered: neither handled nor abandoned nor offered
        _task("o1", status="ended", direction="OUTBOUND", connectedTime=None, endedTime=9_000),
    ]
    assert task_figures(ended, threshold_ms=20_000) == {
        "totalAcceptedTasks": 2,
        "totalAbandonedTasks": 1,
        "averageHandledTime": 87_500,
        "averageEnqueuedTime": 16_500,
        "serviceLevelThresholdPercentage": 33.3,
        "serviceLevelOffered": 3,
        "serviceLevelWithin": 1,
    }
    empty = task_figures([], threshold_ms=20_000)
    assert (empty["averageHandledTime"], empty["serviceLevelThresholdPercentage"]) == (None, None)


def test_today_starts_at_the_orgs_midnight() -> None:
    # 2024-03-04T08:00:00Z is 00:00 in Los Angeles (UTC-8) and 09:00 in Paris
    now = 1_709_539_200_000 + 3_600_000
    assert since_midnight(now, ZoneInfo("UTC")).start_ms == 1_709_510_400_000
    assert since_midnight(now, ZoneInfo("America/Los_Angeles")).start_ms == 1_709_539_200_000
    assert since_midnight(now, ZoneInfo("Europe/Paris")).start_ms == 1_709_506_800_000

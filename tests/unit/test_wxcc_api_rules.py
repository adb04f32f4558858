"""The simulated API's rules: windows, pages, caps, cursors, filters, faults, tokens."""

from __future__ import annotations

import functools
import operator
from typing import Any

import pytest

from wxcc_stream.devtools.wxcc_api import (
    ApiSimulatorError,
    BadRequest,
    Fault,
    FaultPlan,
    FaultSettings,
)
from wxcc_stream.devtools.wxcc_api.faults import RateWindow
from wxcc_stream.devtools.wxcc_api.paging import (
    DAY_MS,
    activity_page,
    cursor_page,
    parse_activity_query,
    window_slice,
)
from wxcc_stream.devtools.wxcc_api.search import matches, select_tasks, task_page
from wxcc_stream.devtools.wxcc_api.tokens import TokenBook, TokenSettings, Unauthorized

NOW = 10 * DAY_MS


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({}, "'from' is required"),
        ({"from": "x"}, "integer"),
        ({"from": "0", "to": str(DAY_MS)}, "less than 24 hours"),
        ({"from": "5", "to": "5"}, "after"),
        ({"from": "0", "to": "10", "pageSize": "1001"}, "pageSize"),
        ({"from": "0", "to": "10", "pageSize": "0"}, "pageSize"),
        ({"from": "0", "to": "10", "page": "-1"}, "page"),
    ],
)
def test_bad_activity_queries_are_refused(params: dict[str, str], why: str) -> None:
    with pytest.raises(BadRequest, match=why):
        parse_activity_query(params, NOW)


def test_an_activity_query_defaults_to_now_and_100_rows() -> None:
    query = parse_activity_query({"from": str(NOW - 1000), "agentIds": "a, b"}, NOW)
    assert (query.end, query.page, query.page_size) == (NOW, 0, 100)
    assert query.agent_ids == frozenset({"a", "b"})
    assert parse_activity_query({"from": "0", "to": str(DAY_MS - 1)}, NOW).end == DAY_MS - 1


def test_a_window_serves_only_its_first_records_in_short_ended_pages() -> None:
    rows = list(range(25))
    queries = [
        parse_activity_query({"from": str(NOW - 5), "page": str(p), "pageSize": "10"}, NOW)
        for p in range(4)
    ]
    pages = [activity_page(rows, query, cap=22) for query in queries]
    assert [len(p) for p in pages] == [10, 10, 2, 0]
    assert functools.reduce(operator.iadd, pages, []) == rows[:22]


def test_window_slice_is_half_open() -> None:
    assert window_slice([1, 2, 2, 3, 5], 2, 5) == (1, 4)


def test_cursor_pages_walk_to_the_end_and_end_with_none() -> None:
    seen, cursor, hops = [], "NA", 0
    while True:
        first, last, cursor_next = cursor_page(7, cursor, 3)
        seen += list(range(first, last))
        hops += 1
        if cursor_next is None:
            break
        cursor = cursor_next
    assert (seen, hops) == (list(range(7)), 3)
    with pytest.raises(BadRequest):
        cursor_page(7, "bogus", 3)


RECORDS: list[dict[str, Any]] = [
    {"id": "a", "createdTime": 10, "endedTime": 50, "channelType": "telephony",
     "totalDuration": 5_000, "lastQueue": {"id": "q1", "name": "General"}, "isActive": False},
    {"id": "b", "createdTime": 20, "endedTime": None, "channelType": "chat",
     "totalDuration": 700_000, "lastQueue": {"id": "q2", "name": "VIP"}, "isActive": True},
    {"id": "c", "createdTime": 30, "endedTime": 40, "channelType": "telephony",
     "totalDuration": 50_000, "lastQueue": None, "isActive": False},
]  # fmt: skip


@pytest.mark.parametrize(
    ("task_filter", "ids"),
    [
        ({"channelType": {"equals": "telephony"}}, ["a", "c"]),
        (
            {
                "and": [
                    {"channelType": {"equals": "telephony"}},
                    {"or": [{"totalDuration": {"lte": 10_000}},
                            {"totalDuration": {"gte": 600_000}}]},
                ]
            },
            ["a"],
        ),
        ({"lastQueue": {"id": {"equals": "q2"}}}, ["b"]),
        ({"lastQueue": {"name": {"contains": "en"}}}, ["a"]),
        ({"not": {"isActive": {"equals": True}}}, ["a", "c"]),
        ({"id": {"match": "[ab]"}}, ["a", "b"]),
    ],
)  # fmt: skip
def test_filters_follow_the_vendors_grammar(task_filter: dict[str, Any], ids: list[str]) -> None:
    assert [r["id"] for r in RECORDS if matches(r, task_filter)] == ids


def test_the_time_comparator_chooses_the_indexed_field() -> None:
    assert [r["id"] for r in select_tasks(RECORDS, start=0, end=25)] == ["a", "b"]
    ended = select_tasks(RECORDS, start=35, end=60, time_field="endedTime")
    assert [r["id"] for r in ended] == ["a", "c"]
    page = task_page(ended, None, page_size=1)
    assert (page.has_next, page.end_cursor) == (True, "c1")
    assert task_page(ended, "c1", page_size=1).end_cursor is None


def test_fault_plans_are_seeded_and_near_their_shares() -> None:
    settings = FaultSettings(seed=7, too_many_share=0.3, server_error_share=0.1)
    first = [FaultPlan(settings).next() for _ in range(1)]
    plan, again = FaultPlan(settings), FaultPlan(settings)
    drawn = [plan.next() for _ in range(2000)]
    assert drawn == [again.next() for _ in range(2000)]
    assert first[0] == drawn[0]
    share_429 = drawn.count(Fault.TOO_MANY) / len(drawn)
    assert 0.25 < share_429 < 0.35
    assert Fault.SLOW not in drawn
    assert Fault.EXPIRE_TOKEN not in drawn


def test_no_faults_by_default() -> None:
    plan = FaultPlan(FaultSettings())
    assert {plan.next() for _ in range(100)} == {Fault.NONE}


def test_fault_shares_are_checked() -> None:
    with pytest.raises(ApiSimulatorError, match="too_many_share"):
        FaultSettings(too_many_share=1.5)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _client(**extra: str) -> dict[str, str]:
    settings = TokenSettings()
    return {"client_id": settings.client_id, "client_secret": settings.client_secret, **extra}


def test_tokens_expire_and_refresh_tokens_are_single_use() -> None:
    clock = _Clock()
    book = TokenBook(TokenSettings(access_lifetime_s=10, refresh_lifetime_s=100), clock)
    first = book.grant(_client(grant_type="client_credentials"))
    assert book.check(f"Bearer {first['access_token']}") == first["access_token"]
    clock.now += 10
    with pytest.raises(Unauthorized):
        book.check(f"Bearer {first['access_token']}")
    second = book.grant(_client(grant_type="refresh_token", refresh_token=first["refresh_token"]))
    assert second["refresh_token"] != first["refresh_token"]
    book.check(f"Bearer {second['access_token']}")
    with pytest.raises(Unauthorized):  # the old refresh token was retired
        book.grant(_client(grant_type="refresh_token", refresh_token=first["refresh_token"]))


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
        _client(grant_type="refresh_token", refresh_token="never-issued"),
        {"grant_type": "client_credentials"},
    ],
)
def test_wrong_clients_and_unknown_refresh_tokens_get_401(form: dict[str, str]) -> None:
    with pytest.raises(Unauthorized):
        TokenBook(TokenSettings(), _Clock()).grant(form)


def test_an_unknown_grant_type_is_a_bad_request() -> None:
    with pytest.raises(BadRequest):
        TokenBook(TokenSettings(), _Clock()).grant(_client(grant_type="password"))


def test_the_rate_window_admits_a_limit_per_period_and_says_how_long_to_wait() -> None:
    window = RateWindow(limit=3, period_s=60.0)
    assert [window.admit(t) for t in (0.0, 1.0, 2.0)] == [None, None, None]
    assert window.admit(10.0) == 50  # the request at 0 leaves the window at 60
    assert window.admit(59.5) == 1
    assert window.admit(60.0) is None
    assert window.admit(60.5) == 1

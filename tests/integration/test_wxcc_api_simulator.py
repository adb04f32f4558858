"""The WxCC API simulator over real loopback HTTP: auth, limits, GraphQL, captures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from wxcc_stream.devtools.scenario import ScenarioConfig, generate
from wxcc_stream.devtools.wxcc_api import (
    STATE,
    ApiSimConfig,
    FaultSettings,
    TokenSettings,
    build_app,
    serve,
)

CONFIG = ScenarioConfig(seed=5)
CLIENT = {"client_id": TokenSettings().client_id, "client_secret": TokenSettings().client_secret}
QUERY = """query Tasks($from: Long!, $to: Long!, $cursor: String) {
  taskDetails(from: $from, to: $to, filter: {channelType: {equals: telephony}},
              pagination: {cursor: $cursor}) {
    tasks { id createdTime channelType lastQueue { id name } lastAgent { id } holdCount }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def _bearer(http: aiohttp.ClientSession, base: str) -> dict[str, str]:
    """The Authorization header of a fresh client-credentials token."""
    async with http.post(
        f"{base}/v1/access_token", data={"grant_type": "client_credentials", **CLIENT}
    ) as answer:
        assert answer.status == 200
        return {"Authorization": f"Bearer {(await answer.json())['access_token']}"}


@pytest.fixture
async def api() -> AsyncIterator[tuple[str, aiohttp.ClientSession, dict[str, str]]]:
    app = build_app(generate(CONFIG), ApiSimConfig())
    async with serve(app) as base, aiohttp.ClientSession() as http:
        yield base, http, await _bearer(http, base)


async def _get(http: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any]:
    async with http.get(url, **kw) as answer:
        return answer.status, await answer.json()


async def test_data_needs_a_valid_token(api: tuple[str, aiohttp.ClientSession, Any]) -> None:
    base, http, _ = api
    url = f"{base}/v1/agents/activities?from={CONFIG.start_ms}"
    status, _ = await _get(http, url, headers={"Authorization": "Bearer nope"})
    assert status == 401
    async with http.post(f"{base}/v1/access_token", data={"grant_type": "x"}) as answer:
        assert answer.status == 401


async def test_activities_page_until_a_short_page(
    api: tuple[str, aiohttp.ClientSession, dict[str, str]],
) -> None:
    base, http, auth = api
    start, end = CONFIG.start_ms - 3_600_000, CONFIG.start_ms + 20 * 3_600_000
    rows: list[dict[str, Any]] = []
    for page in range(100):
        url = f"{base}/v1/agents/activities?from={start}&to={end}&page={page}&pageSize=1000"
        status, body = await _get(http, url, headers=auth)
        assert status == 200
        assert set(body) == {"meta", "data"}
        rows += body["data"]
        if len(body["data"]) < 1000:
            break
    expected = sum(e["type"].startswith("agent:") for e in generate(CONFIG).events)
    assert len(rows) == expected
    status, body = await _get(
        http, f"{base}/v1/agents/activities?from={start}&to={start + 86_400_000}", headers=auth
    )
    assert status == 400
    assert "24 hours" in body["error"]["message"]


async def test_search_pages_with_cursors_and_validates_queries(
    api: tuple[str, aiohttp.ClientSession, dict[str, str]],
) -> None:
    base, http, auth = api
    app_tasks = [t for t in generate(CONFIG).task_truth.values() if t["channelType"] == "telephony"]
    variables: dict[str, Any] = {"from": CONFIG.start_ms, "to": CONFIG.end_ms + 86_400_000}
    found, cursor = [], "NA"
    while True:
        body = {"query": QUERY, "variables": {**variables, "cursor": cursor}}
        async with http.post(f"{base}/search", json=body, headers=auth) as answer:
            assert answer.status == 200
            details = (await answer.json())["data"]["taskDetails"]
        found += details["tasks"]
        if not details["pageInfo"]["hasNextPage"]:
            assert details["pageInfo"]["endCursor"] is None
            break
        cursor = details["pageInfo"]["endCursor"]
    assert sorted(t["id"] for t in found) == sorted(t["taskId"] for t in app_tasks)
    bad = {"query": "{ taskDetails(from: 1, to: 2) { tasks { nosuchfield } } }"}
    async with http.post(f"{base}/search", json=bad, headers=auth) as answer:
        assert "errors" in await answer.json()


async def test_captures_answer_up_to_ten_ids(
    api: tuple[str, aiohttp.ClientSession, dict[str, str]],
) -> None:
    base, http, auth = api
    captured = [t for t, doc in generate(CONFIG).task_truth.items() if doc["captures"]]
    body = {"query": {"taskIds": [*captured[:2], "unknown"], "urlExpiration": 5}}
    async with http.post(f"{base}/v1/captures/query", json=body, headers=auth) as answer:
        data = (await answer.json())["data"]
    assert [len(d["recording"]) > 0 for d in data] == [True, True, False]
    eleven = {"query": {"taskIds": [f"t{i}" for i in range(11)]}}
    async with http.post(f"{base}/v1/captures/query", json=eleven, headers=auth) as answer:
        assert answer.status == 400


async def test_by_default_the_apis_clock_is_after_the_days_last_event() -> None:
    scenario = generate(CONFIG)
    app = build_app(scenario, ApiSimConfig())
    assert app[STATE].stats["requests"] == 0
    assert app[STATE].now_ms == 1 + max(e["data"]["createdTime"] for e in scenario.events)


async def test_asking_again_before_retry_after_gets_another_429() -> None:
    faults = FaultSettings(too_many_share=1.0, retry_after_s=30)
    app = build_app(generate(CONFIG), ApiSimConfig(faults=faults))
    async with serve(app) as base, aiohttp.ClientSession() as http:
        auth = await _bearer(http, base)
        url = f"{base}/v1/agents/activities?from={CONFIG.start_ms}"
        for _ in range(2):
            async with http.get(url, headers=auth) as answer:
                assert answer.status == 429
                assert answer.headers["Retry-After"] == "30"
    assert (app[STATE].stats["429"], app[STATE].stats["429 early"]) == (1, 1)


async def test_over_the_rate_limit_the_answer_is_429_with_retry_after() -> None:
    app = build_app(generate(CONFIG), ApiSimConfig(rate_limit_per_minute=3))
    async with serve(app) as base, aiohttp.ClientSession() as http:
        auth = await _bearer(http, base)
        url = f"{base}/v1/agents/activities?from={CONFIG.start_ms}"
        statuses = []
        for _ in range(4):
            async with http.get(url, headers=auth) as answer:
                statuses.append(answer.status)
                retry_after = answer.headers.get("Retry-After")
    assert statuses == [200, 200, 200, 429]
    assert retry_after is not None
    assert 1 <= int(retry_after) <= 60
    assert app[STATE].stats["429 rate"] == 1

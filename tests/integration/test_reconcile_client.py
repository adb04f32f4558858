"""The reconciliation client over real loopback HTTP against the WxCC API simulator:
it reads the generator's whole day back despite expiring tokens, a 429 storm, server
errors and a window over 10,000 activities."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

import aiohttp
import pytest

from wxcc_stream.devtools.scenario import HOUR_MS, Scenario, ScenarioConfig, generate
from wxcc_stream.devtools.wxcc_api import (
    STATE,
    ApiSimConfig,
    ApiState,
    FaultSettings,
    TokenSettings,
    build_app,
    serve,
)
from wxcc_stream.reconcile import (
    ApiError,
    AuthError,
    ClientConfig,
    Credentials,
    Unreachable,
    WxccApiClient,
    fetch_activities,
    fetch_captures,
    search_tasks,
)

SIM_TOKENS = TokenSettings()
DAY = ScenarioConfig(seed=11)


@cache
def _scenario(config: ScenarioConfig) -> Scenario:
    return generate(config)


def _span(config: ScenarioConfig) -> tuple[int, int]:
    """A range holding the whole day (agents finish after the scheduled end)."""
    return config.start_ms - HOUR_MS, config.end_ms + 6 * HOUR_MS


@asynccontextmanager
async def _running(
    scenario: Scenario,
    sim: ApiSimConfig,
    *,
    credentials: Credentials | None = None,
    clock: Callable[[], float] | None = None,
    margin_s: float = 60.0,
) -> AsyncIterator[tuple[WxccApiClient, ApiState]]:
    app = build_app(scenario, sim, **({"clock": clock} if clock else {}))
    async with serve(app) as base, aiohttp.ClientSession() as http:
        config = ClientConfig(
            base_url=base,
            token_url=f"{base}/v1/access_token",
            credentials=credentials or Credentials(SIM_TOKENS.client_id, SIM_TOKENS.client_secret),
            token_margin_s=margin_s,
            wait_initial_s=0.01,
            max_backoff_s=0.05,
        )
        yield WxccApiClient(config, http, **({"clock": clock} if clock else {})), app[STATE]


async def _read_day(client: WxccApiClient, config: ScenarioConfig) -> dict[str, Any]:
    start, end = _span(config)
    activities = await fetch_activities(client, start, end)
    tasks = await search_tasks(client, start, end)
    captures = await fetch_captures(client, [t["id"] for t in tasks if t["captureRequested"]])
    return {"activities": activities, "tasks": tasks, "captures": captures}


def _assert_whole_day(read: dict[str, Any], scenario: Scenario) -> None:
    agent_events = [e for e in scenario.events if e["type"].startswith("agent:")]
    assert len(read["activities"]) == len(agent_events)
    starts = [row["startTime"] for row in read["activities"]]
    assert starts == sorted(e["data"]["createdTime"] for e in agent_events)
    assert sorted(t["id"] for t in read["tasks"]) == sorted(scenario.task_truth)
    for task in read["tasks"]:
        truth = scenario.task_truth[task["id"]]
        assert (task["endedTime"], task["holdCount"]) == (truth["endedTime"], truth["holdCount"])
    captured = {t: doc["captures"] for t, doc in scenario.task_truth.items() if doc["captures"]}
    paths = {
        t: sorted(r["attributes"]["filePath"].split("?")[0] for r in recs)
        for t, recs in read["captures"].items()
    }
    assert paths == captured


async def test_the_whole_day_is_read_back() -> None:
    scenario = _scenario(DAY)
    async with _running(scenario, ApiSimConfig()) as (client, state):
        _assert_whole_day(await _read_day(client, DAY), scenario)
    assert client.tokens.refreshes == 1
    assert state.stats["401"] == 0


async def test_tokens_are_refreshed_before_they_expire_keeping_the_newest() -> None:
    """Both sides read one fake clock that moves 7 s per look: the 60 s tokens expire
    many times during the run; the client refreshes ahead (no 401) with the newest,
    single-use refresh token."""
    ticks = itertools.count(step=7)

    def clock() -> float:
        return float(next(ticks))

    sim = ApiSimConfig(tokens=TokenSettings(access_lifetime_s=60, refresh_lifetime_s=600))
    scenario = _scenario(DAY)
    async with _running(scenario, sim, clock=clock, margin_s=15) as (client, state):
        _assert_whole_day(await _read_day(client, DAY), scenario)
    assert client.tokens.refreshes > 3
    assert state.stats["401"] == 0


async def test_tokens_revoked_mid_run_are_replaced_after_a_401() -> None:
    sim = ApiSimConfig(faults=FaultSettings(seed=2, expire_token_share=0.2))
    scenario = _scenario(DAY)
    async with _running(scenario, sim) as (client, state):
        _assert_whole_day(await _read_day(client, DAY), scenario)
    assert state.stats["401"] > 0
    assert client.tokens.refreshes == 1 + state.stats["401"]


async def test_a_30_percent_429_storm_with_server_errors_still_reads_everything() -> None:
    sim = ApiSimConfig(
        faults=FaultSettings(
            seed=3, too_many_share=0.3, retry_after_s=1, server_error_share=0.05, slow_share=0.05,
            slow_ms=50,
        )
    )  # fmt: skip
    scenario = _scenario(DAY)
    async with _running(scenario, sim) as (client, state):
        _assert_whole_day(await _read_day(client, DAY), scenario)
    assert state.stats["429"] > 5
    assert state.stats["429 early"] == 0  # every retry waited for Retry-After
    assert client.stats["429"] == state.stats["429"]
    assert client.stats["requests"] == state.stats["requests"]


async def test_a_window_over_10000_activities_is_split() -> None:
    busy = ScenarioConfig(seed=12, agents=60, duration_ms=8 * HOUR_MS)
    scenario = _scenario(busy)
    async with _running(scenario, ApiSimConfig()) as (client, _):
        start, end = _span(busy)
        rows = await fetch_activities(client, start, end)
    agent_events = [e for e in scenario.events if e["type"].startswith("agent:")]
    assert len(agent_events) > 10_000
    assert len(rows) == len(agent_events)
    assert client.stats["windows split"] >= 1


async def test_wrong_credentials_fail_without_retrying() -> None:
    async with _running(_scenario(DAY), ApiSimConfig(), credentials=Credentials("x", "y")) as (
        client,
        _,
    ):
        with pytest.raises(AuthError):
            await search_tasks(client, *_span(DAY))


async def test_mid_day_records_are_still_going() -> None:
    """At an API clock inside the day, rows still going end at -1 and open tasks are
    active; tasks that ended are found again by their end time."""
    scenario = _scenario(DAY)
    now = DAY.start_ms + 4 * HOUR_MS
    async with _running(scenario, ApiSimConfig(now_ms=now)) as (client, _):
        rows = await fetch_activities(client, DAY.start_ms - HOUR_MS, now + 1)
        tasks = await search_tasks(client, DAY.start_ms - HOUR_MS, now + 1)
        ended = await search_tasks(client, now - HOUR_MS, now + 1, by="endedTime")
    assert all(row["startTime"] <= now for row in rows)
    assert any(row["endTime"] == -1 and row["active"] for row in rows)
    active = [t for t in tasks if t["isActive"]]
    assert active
    assert all(t["endedTime"] is None for t in active)
    assert ended
    assert all(now - HOUR_MS <= t["endedTime"] <= now for t in ended)


async def test_a_bad_request_is_an_api_error_at_once() -> None:
    async with _running(_scenario(DAY), ApiSimConfig()) as (client, state):
        with pytest.raises(ApiError, match="400"):
            await client.get("/v1/agents/activities", {"to": DAY.end_ms})
    assert state.stats["requests"] == 1


async def test_an_unreachable_api_is_reported_after_the_retries() -> None:
    app = build_app(_scenario(DAY), ApiSimConfig())
    async with serve(app) as base:
        pass  # the port is free again: nothing listens there now
    async with aiohttp.ClientSession() as http:
        config = ClientConfig(
            base_url=base,
            token_url=f"{base}/v1/access_token",
            credentials=Credentials(SIM_TOKENS.client_id, SIM_TOKENS.client_secret),
            attempts=2,
            wait_initial_s=0.01,
            max_backoff_s=0.02,
        )
        with pytest.raises(Unreachable):
            await search_tasks(WxccApiClient(config, http), *_span(DAY))

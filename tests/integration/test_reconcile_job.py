"""The reconciliation job against the real broker, the WxCC API simulator as upstream: a
day whose webhooks were damaged (5 % dropped, 10 % duplicated, shuffled) is in the raw
topic; the job injects exactly the facts the webhooks lost, a second run injects nothing,
a run that stops midway resumes at its checkpoint, a window holding over 10,000 activities
is read whole, and a dry run publishes nothing."""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

import pytest

from tests.e2e.harness import produce_raw, raw_records
from tests.kafka_helpers import create_topics
from tests.reconcile_support import Seen, Stop, agent_summary_identities, api_client, job_config
from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.scenario import (
    HOUR_MS,
    DamageConfig,
    Scenario,
    ScenarioConfig,
    damage,
    generate,
)
from wxcc_stream.projections.task_summary import RECONCILED_TYPE
from wxcc_stream.reconcile import WxccApiClient
from wxcc_stream.reconcile.job import PlanRequest
from wxcc_stream.reconcile.kafka import read_checkpoint, read_records
from wxcc_stream.reconcile.records import identity_of
from wxcc_stream.reconcile.run import JobConfig, fetch_window, mapped_events, run_job
from wxcc_stream.reconcile.windows import Window
from wxcc_stream.schemas.cloudevent import parse_event, parse_event_bytes

pytestmark = pytest.mark.broker

DAY = ScenarioConfig(seed=21, agents=6, teams=2, queues=2, duration_ms=2 * HOUR_MS)
DAMAGE = DamageConfig(seed=3, shuffle_window_ms=5_000, duplicate_fraction=0.10, drop_fraction=0.05)
Span = tuple[int, int]


def _span(day: ScenarioConfig) -> Span:
    return (day.start_ms - HOUR_MS, day.end_ms + 3 * HOUR_MS)


SPAN = _span(DAY)


@cache
def _scenario() -> Scenario:
    return generate(DAY)


def _request(span: Span = SPAN, **changes: Any) -> PlanRequest:
    fields: dict[str, Any] = {
        "now_ms": span[1] + HOUR_MS,
        "settle_ms": HOUR_MS,
        "lookback_ms": 24 * HOUR_MS,
        "window_ms": HOUR_MS,
        "since": span[0],
        "until": span[1],
    }
    return PlanRequest(**(fields | changes))


async def _deliver_damaged(settings: Settings, scenario: Scenario) -> list[dict[str, Any]]:
    """The damaged webhooks into the raw topic; the events delivered."""
    delivery = damage(scenario.events, DAMAGE)
    assert delivery.dropped
    assert delivery.duplicated
    await create_topics(settings.kafka.bootstrap, [settings.topic.raw], partitions=2)
    await produce_raw(
        settings.kafka.bootstrap,
        settings.topic.raw,
        raw_records(event for _, event in delivery.deliveries),
    )
    return [event for _, event in delivery.deliveries]


async def _api_identities(
    client: WxccApiClient, job: JobConfig, delivered: list[dict[str, Any]], span: Span = SPAN
) -> tuple[set[Any], set[Any], set[Any]]:
    """The API's webhook facts, the ones no webhook delivered, and the task summaries."""
    fetched = await fetch_window(client, Window(*span))
    events = [parse_event(e) for e in mapped_events(fetched, job)]
    facts = {identity_of(e) for e in events if e.type != RECONCILED_TYPE}
    summaries = {identity_of(e) for e in events if e.type == RECONCILED_TYPE}
    lost = facts - {identity_of(parse_event(e)) for e in delivered}
    agents = agent_summary_identities(fetched.activities, job, lost)
    assert agents
    summaries |= agents
    return facts, lost, summaries


async def _count(settings: Settings, topic: str) -> int:
    return len([r async for r in read_records(settings.kafka.bootstrap, topic, None)])


async def _reconciled_in_raw(settings: Settings) -> list[Any]:
    records = [r async for r in read_records(settings.kafka.bootstrap, settings.topic.raw, None)]
    events = [parse_event_bytes(r.value) for r in records]
    return [e for e in events if e.reconciled]


async def test_a_run_injects_what_the_webhooks_lost_and_a_second_run_nothing(
    settings: Settings,
) -> None:
    scenario = _scenario()
    delivered = await _deliver_damaged(settings, scenario)
    job = job_config(settings, scenario)
    async with api_client(scenario) as client:
        api, lost, summaries = await _api_identities(client, job, delivered)
        first = await run_job(client, job, _request(), Seen(), lambda: SPAN[1])
        second = await run_job(client, job, _request(), Seen(), lambda: SPAN[1])

    injected = await _reconciled_in_raw(settings)
    assert {identity_of(e) for e in injected} == lost | summaries
    assert len(injected) == len(lost) + len(summaries)
    assert first.total("injected") == len(lost)
    assert first.total("summaries") == len(_scenario().task_truth)
    assert first.total("summaries") + first.total("agent_summaries") == len(summaries)
    assert Counter(e.ce_id for e in injected).most_common(1)[0][1] == 1
    assert first.total("events") == len(api)
    assert first.total("by_webhook") == len(api) - len(lost)
    assert 0 < first.loss_rate < 0.2
    assert len(first.windows) == 6  # the span's hours

    assert second.total("injected") == second.total("summaries") == 0
    assert second.total("agent_summaries") == 0
    assert second.total("by_reconcile") == len(lost)
    assert second.loss_rate == first.loss_rate  # still the webhooks' figure
    assert len(await _reconciled_in_raw(settings)) == len(injected)
    key = second.plan.key
    assert await read_checkpoint(settings.kafka.bootstrap, job.topics, key) is not None


async def test_a_run_stopped_midway_resumes_at_its_checkpoint(settings: Settings) -> None:
    scenario = _scenario()
    delivered = await _deliver_damaged(settings, scenario)
    job = job_config(settings, scenario)
    async with api_client(scenario) as client:
        _, lost, summaries = await _api_identities(client, job, delivered)
        stopped = Seen(stop_after=2)
        with pytest.raises(Stop):
            await run_job(client, job, _request(), stopped, lambda: SPAN[1])
        resumed = await run_job(client, job, _request(), Seen(), lambda: SPAN[1])

    assert resumed.plan.resumed_from == stopped.results[-1].window.end
    assert len(resumed.windows) == 6 - 2
    injected = await _reconciled_in_raw(settings)
    assert {identity_of(e) for e in injected} == lost | summaries
    assert len(injected) == len(lost) + len(summaries)  # nothing twice


async def test_a_window_over_10000_activities_is_read_whole(settings: Settings) -> None:
    # 60 agents for 8 h: one job window holds more activity rows than the API serves for
    # one query, so the client splits it; the job still injects exactly what was lost
    busy = ScenarioConfig(seed=12, agents=60, duration_ms=8 * HOUR_MS)
    scenario, span = generate(busy), _span(busy)
    delivered = await _deliver_damaged(settings, scenario)
    job = job_config(settings, scenario)
    # a day this size takes ~300 requests (captures: 10 tasks a call): the vendor's rate
    # would make the test wait a minute for nothing it checks
    async with api_client(scenario, requests_per_minute=6_000) as client:
        _, lost, summaries = await _api_identities(client, job, delivered, span)
        client.stats.clear()
        run = await run_job(
            client, job, _request(span, window_ms=span[1] - span[0]), Seen(), lambda: span[1]
        )
        assert client.stats["windows split"] >= 1

    assert len(run.windows) == 1
    assert run.windows[0].activities > 10_000
    injected = await _reconciled_in_raw(settings)
    assert {identity_of(e) for e in injected} == lost | summaries
    assert len(injected) == len(lost) + len(summaries)
    assert run.total("injected") == len(lost)


async def test_a_dry_run_reports_and_publishes_nothing(settings: Settings) -> None:
    scenario = _scenario()
    await _deliver_damaged(settings, scenario)
    before = await _count(settings, settings.topic.raw)
    job = job_config(settings, scenario, dry_run=True)
    async with api_client(scenario) as client:
        summary = await run_job(client, job, _request(), Seen(), lambda: SPAN[1])
    assert summary.total("injected") > 0  # what it would inject
    # no worker ran, so every entity is missing from the (empty) projections
    assert summary.disagreements["task.missing"] == len(scenario.task_truth)
    assert summary.disagreements["agent.missing"] == len(scenario.agent_truth)
    assert any("missing from the projection" in line for line in summary.details)
    after = await _count(settings, settings.topic.raw)
    assert after == before
    assert await read_checkpoint(settings.kafka.bootstrap, job.topics, summary.plan.key) is None

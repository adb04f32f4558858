"""Issue 13, the job's faults end to end: `wxcc-stream reconcile` (a child process)
against the WxCC API simulator answering 30 % of the data requests with 429 (and some
with 503), revoking access tokens mid-run and issuing tokens that live 4 s, so the run
refreshes ahead of expiry, gets new tokens after 401s and honours every Retry-After; it
still injects exactly the facts the webhooks lost (plus one summary per task, and per
agent that lost one), and a second run under the same storm injects nothing."""

from __future__ import annotations

import asyncio
import re
import sys
from collections import Counter
from typing import Any

import pytest

from tests.e2e.harness import ROOT, produce_raw, raw_records
from tests.kafka_helpers import create_topics
from tests.reconcile_support import (
    agent_summary_identities,
    api_client,
    command_env,
    job_config,
)
from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.scenario import (
    HOUR_MS,
    DamageConfig,
    Scenario,
    ScenarioConfig,
    damage,
    generate,
)
from wxcc_stream.devtools.wxcc_api import (
    STATE,
    ApiSimConfig,
    FaultSettings,
    TokenSettings,
    build_app,
    serve,
)
from wxcc_stream.projections.task_summary import RECONCILED_TYPE
from wxcc_stream.reconcile.kafka import read_records
from wxcc_stream.reconcile.records import identity_of
from wxcc_stream.reconcile.run import fetch_window, mapped_events
from wxcc_stream.reconcile.windows import Window
from wxcc_stream.schemas.cloudevent import parse_event, parse_event_bytes

pytestmark = pytest.mark.broker

DAY = ScenarioConfig(seed=31, agents=3, teams=1, queues=1, duration_ms=HOUR_MS)
SPAN = (DAY.start_ms, DAY.end_ms + HOUR_MS)
TOKENS = TokenSettings(access_lifetime_s=4.0)
STORM = FaultSettings(
    seed=7, too_many_share=0.30, retry_after_s=1, server_error_share=0.05,
    expire_token_share=0.10,
)  # fmt: skip


def _env(settings: Settings, base: str, scenario: Scenario) -> dict[str, str]:
    return command_env(
        settings, base, scenario, WINDOW_MS=str(HOUR_MS // 2), TOKEN_MARGIN_S="2", ATTEMPTS="30"
    )


async def _run(env: dict[str, str]) -> str:
    argv = [sys.executable, "-m", "wxcc_stream.cli", "reconcile", "--quiet"]
    argv += ["--since", str(SPAN[0]), "--until", str(SPAN[1])]
    child = await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await child.communicate()
    text = out.decode()
    assert child.returncode == 0, text
    return text


async def _injected(settings: Settings) -> list[Any]:
    records = [r async for r in read_records(settings.kafka.bootstrap, settings.topic.raw, None)]
    return [e for e in (parse_event_bytes(r.value) for r in records) if e.reconciled]


def _counts(output: str) -> tuple[str, str]:
    found = re.findall(r"injected (\d[\d,]*) and (\d[\d,]*) task summaries", output)
    assert found, output
    return found[-1]


@pytest.mark.timeout(300)
async def test_the_command_rides_out_a_429_storm_and_expiring_tokens(
    settings: Settings,
) -> None:
    scenario = generate(DAY)
    delivery = damage(scenario.events, DamageConfig(seed=2, drop_fraction=0.10))
    delivered = [event for _, event in delivery.deliveries]
    await create_topics(settings.kafka.bootstrap, [settings.topic.raw])
    await produce_raw(settings.kafka.bootstrap, settings.topic.raw, raw_records(delivered))
    # what the run must inject: the API's facts no webhook delivered, and the summaries
    job = job_config(settings, scenario)
    async with api_client(scenario) as client:
        fetched = await fetch_window(client, Window(*SPAN))
    api = [parse_event(e) for e in mapped_events(fetched, job)]
    lost = {identity_of(e) for e in api if e.type != RECONCILED_TYPE}
    lost -= {identity_of(parse_event(e)) for e in delivered}
    summaries = {identity_of(e) for e in api if e.type == RECONCILED_TYPE}
    summaries |= agent_summary_identities(fetched.activities, job, lost)
    assert lost
    assert summaries

    app = build_app(scenario, ApiSimConfig(tokens=TOKENS, faults=STORM))
    async with serve(app) as base:
        env = _env(settings, base, scenario)
        first = await _run(env)
        second = await _run(env)
    stats = app[STATE].stats

    injected = await _injected(settings)
    assert {identity_of(e) for e in injected} == lost | summaries
    assert Counter(e.ce_id for e in injected).most_common(1)[0][1] == 1
    assert _counts(first) == (str(len(lost)), str(len(scenario.task_truth)))
    assert _counts(second) == ("0", "0")
    # the storm happened, and the client honoured it
    assert stats["429"] > 0, stats
    assert stats["5xx"] > 0, stats
    assert stats["401"] > 0, stats  # revoked tokens, replaced after the 401
    assert stats["429 early"] == 0, stats
    assert stats["token refresh_token"] > 0, stats  # 4 s tokens: refreshed, not re-granted

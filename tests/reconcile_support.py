"""What the reconciliation job's tests share: the simulator as upstream with a client on
it, the job's configuration for a test's topics, and a progress that keeps the windows."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.scenario import Scenario
from wxcc_stream.devtools.wxcc_api import ApiSimConfig, TokenSettings, build_app, serve
from wxcc_stream.reconcile import ClientConfig, Credentials, WxccApiClient
from wxcc_stream.reconcile.agent_summary import agent_events, agent_summary_events
from wxcc_stream.reconcile.events import Origin
from wxcc_stream.reconcile.job import Summary, WindowResult
from wxcc_stream.reconcile.kafka import JobTopics
from wxcc_stream.reconcile.records import identity_of
from wxcc_stream.reconcile.run import JobConfig
from wxcc_stream.schemas.cloudevent import parse_event

SIM_TOKENS = TokenSettings()


class Stop(Exception):
    """Raised by `Seen` to stop a run midway, as a crash would."""


class Seen:
    """Progress that keeps the windows; `stop_after` stops the run there (a crash)."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.results: list[WindowResult] = []
        self.stop_after = stop_after

    def planned(self, summary: Summary) -> None:
        del summary

    def window_done(self, result: WindowResult) -> None:
        self.results.append(result)
        if self.stop_after is not None and len(self.results) >= self.stop_after:
            raise Stop


@asynccontextmanager
async def api_client(
    scenario: Scenario, *, requests_per_minute: int = 300
) -> AsyncIterator[WxccApiClient]:
    """A client on the simulator serving `scenario` on a loopback port, both keeping
    `requests_per_minute` (the vendor's 300 unless a test reads a bigger day)."""
    sim = ApiSimConfig(tokens=SIM_TOKENS, rate_limit_per_minute=requests_per_minute)
    app = build_app(scenario, sim)
    async with serve(app) as base, aiohttp.ClientSession() as http:
        config = ClientConfig(
            base_url=base,
            token_url=f"{base}/v1/access_token",
            credentials=Credentials(SIM_TOKENS.client_id, SIM_TOKENS.client_secret),
            requests_per_minute=requests_per_minute,
            wait_initial_s=0.01,
            max_backoff_s=0.05,
        )
        yield WxccApiClient(config, http)


def job_config(settings: Settings, scenario: Scenario, *, dry_run: bool = False) -> JobConfig:
    """The job writing to the test's topics, as the scenario's webhook subscription."""
    return JobConfig(
        bootstrap=settings.kafka.bootstrap,
        topics=JobTopics.from_settings(settings),
        origin=Origin(scenario.config.org_id, scenario.config.source),
        dry_run=dry_run,
    )


def agent_summary_identities(
    activities: list[dict[str, Any]], job: JobConfig, lost: set[Any]
) -> set[Any]:
    """The identities of the agent summaries a run over `activities` makes: one per
    agent a fact of which was lost (docs/projections.md, the authoritative agent summary)."""
    facts = agent_events(activities, job.origin, job.state_change_type)
    lossy = {e.entity_id for e in facts if identity_of(e) in lost}
    made = agent_summary_events(facts, lossy, job.origin)
    assert len(made) == len(lossy)
    return {identity_of(parse_event(e)) for e in made}


def command_env(settings: Settings, base: str, scenario: Scenario, **extra: str) -> dict[str, str]:
    """The environment of `wxcc-stream reconcile` as a child process: the test's topics,
    the simulator at `base` as the APIs, the scenario's org and source; `extra` adds
    WXCC_RECONCILE_<NAME> settings (e.g. WINDOW_MS="1800000")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXCC_")}
    return (
        env
        | {
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
            "WXCC_KAFKA_BOOTSTRAP": settings.kafka.bootstrap,
            "WXCC_TOPIC_PREFIX": settings.topic.prefix,
            "WXCC_TOPIC_PARTITIONS": str(settings.topic.partitions),
            "WXCC_RECONCILE_BASE_URL": base,
            "WXCC_RECONCILE_TOKEN_URL": f"{base}/v1/access_token",
            "WXCC_RECONCILE_CLIENT_ID": SIM_TOKENS.client_id,
            "WXCC_RECONCILE_CLIENT_SECRET": SIM_TOKENS.client_secret,
            "WXCC_RECONCILE_ORG_ID": scenario.config.org_id,
            "WXCC_RECONCILE_SOURCE": scenario.config.source,
            "WXCC_RECONCILE_MAX_BACKOFF_S": "0.2",
        }
        | {f"WXCC_RECONCILE_{k}": v for k, v in extra.items()}
    )

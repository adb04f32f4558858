"""What the reconciliation job's tests share: the simulator as upstream with a client on
it, the job's configuration for a test's topics, and a progress that keeps the windows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
async def api_client(scenario: Scenario) -> AsyncIterator[WxccApiClient]:
    """A client on the simulator serving `scenario` on a loopback port."""
    app = build_app(scenario, ApiSimConfig(tokens=SIM_TOKENS))
    async with serve(app) as base, aiohttp.ClientSession() as http:
        config = ClientConfig(
            base_url=base,
            token_url=f"{base}/v1/access_token",
            credentials=Credentials(SIM_TOKENS.client_id, SIM_TOKENS.client_secret),
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

"""The query API on the real pipeline: a generated, damaged day through the real worker on
the real broker, read by two `wxcc-stream api` replicas. Documents equal the generator's
ground truth; figures equal a computation from that truth written here, independently of
the API's code; every answer validates against the OpenAPI description.

One pipeline run serves the whole module (module-scoped fixture): the capture events are
held back and sent while a client pages through the tasks and streams the changes.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.e2e.api_harness import ADMIN_TOKEN, Answer, ApiProcess, read_events
from tests.e2e.harness import WorkerProcess, produce_raw, raw_records
from wxcc_stream.api.openapi import openapi_document
from wxcc_stream.base.settings import Settings, load_settings, with_overrides
from wxcc_stream.devtools.scenario import (
    HOUR_MS,
    DamageConfig,
    Scenario,
    ScenarioConfig,
    damage,
    generate,
)

pytestmark = pytest.mark.broker

FAST = {"flush_timeout_ms": 1000, "tick_interval_ms": 250, "grace_ms": 1000}
DAMAGE = DamageConfig(seed=3, shuffle_window_ms=4_000, duplicate_fraction=0.1)
SERVICE_LEVEL_MS = 20_000


@dataclass
class Pipeline:
    """The module's pipeline: scenario, worker, two API replicas; captures held back."""

    settings: Settings
    scenario: Scenario
    worker: WorkerProcess
    api: ApiProcess
    replica: ApiProcess
    held_back: list[Any]
    team_token: str
    held_sent: bool = False
    answers: list[tuple[str, Answer]] = field(default_factory=list)

    def get(self, path: str, token: str | None = ADMIN_TOKEN, **headers: str) -> Answer:
        answer = self.api.get(path, token, **headers)
        self.answers.append((path, answer))
        return answer

    def send_held_back(self) -> None:
        if not self.held_sent:
            self.held_sent = True
            asyncio.run(produce_raw(self.settings.kafka.bootstrap, self.settings.topic.raw,
                                    self.held_back))  # fmt: skip

    def wait_for_truth(self, api: ApiProcess, timeout_s: float = 90.0) -> None:
        self.send_held_back()
        deadline = time.monotonic() + timeout_s
        agents = tasks = {}
        while time.monotonic() < deadline:
            self.worker.assert_running()
            agents = {d["agentId"]: d for d in api.all_pages("/agents", limit=1000)}
            tasks = {d["taskId"]: d for d in api.all_pages("/tasks", limit=1000)}
            if agents == self.scenario.agent_truth and tasks == self.scenario.task_truth:
                return
            time.sleep(1.0)
        differ = [k for k, d in self.scenario.task_truth.items() if tasks.get(k) != d]
        raise AssertionError(f"API differs from the truth: {len(differ)} tasks, e.g. {differ[:3]}"
                             f"\n{self.worker.log_tail(20)}\n{api.log_tail(20)}")  # fmt: skip


@pytest.fixture(scope="module")
def pipeline(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    base = load_settings({})
    settings = with_overrides(
        base,
        kafka=with_overrides(base.kafka, bootstrap=kafka_bootstrap),
        topic=with_overrides(base.topic, prefix=f"api{int(time.time() * 1000) % 10**9}"),
    )
    tmp = tmp_path_factory.mktemp("api-pipeline")
    scenario = generate(ScenarioConfig(seed=16, agents=6, teams=2, queues=3,
                                       duration_ms=6 * HOUR_MS, tasks=140))  # fmt: skip
    delivered = [event for _, event in damage(scenario.events, DAMAGE).deliveries]
    records = raw_records(delivered)
    held = [r for r in records if r[2]["type"] == "capture:available"]
    assert held, "the scenario has recordings"
    first = [r for r in records if r[2]["type"] != "capture:available"]
    team = scenario.directory.teams[0].id
    team_token = "team-token-0123456789abcdef"
    tokens = f"{ADMIN_TOKEN}=*,{team_token}=team:{team}"
    worker = WorkerProcess(settings, tmp / "worker", overrides=FAST).start()
    api = ApiProcess(settings, tmp / "api.log", tokens=tokens)
    replica = ApiProcess(settings, tmp / "replica.log", tokens=tokens)
    try:
        asyncio.run(worker.wait_ready())
        api.start()
        replica.start()
        api.wait_ready()
        replica.wait_ready()
        asyncio.run(produce_raw(settings.kafka.bootstrap, settings.topic.raw, first))
        deadline = time.monotonic() + 90
        while len(api.all_pages("/tasks", limit=1000)) < len(scenario.task_truth):
            assert time.monotonic() < deadline, api.log_tail()
            time.sleep(0.5)
        yield Pipeline(settings, scenario, worker, api, replica, held, team_token)
    finally:
        replica.stop()
        api.stop()
        worker.stop()


def test_pages_and_stream_while_documents_change_then_resume_on_another_replica(
    pipeline: Pipeline,
) -> None:
    """Tasks paged 7 at a time while the held-back captures change them: no task twice,
    none missed. A stream client stops mid-way and resumes on the other replica with its
    Last-Event-ID: it gets exactly the changes it had not seen."""
    api = pipeline.api
    ready = read_events(api, "/stream?kind=task", max_events=1)
    assert ready[0].event == "ready"
    first = pipeline.get("/tasks?limit=7")
    assert first.status == 200
    start_position = first.headers["X-Stream-Position"]
    pipeline.send_held_back()
    seen_first = [
        e
        for e in read_events(api, "/stream?kind=task", last_event_id=ready[0].id, max_events=4,
                             counting="task")
        if e.event == "task"
    ]  # fmt: skip
    assert len(seen_first) == 4
    served = [d["taskId"] for d in first.json["items"]]
    cursor, positions = first.json["next"], {start_position}
    while cursor:
        page = pipeline.get("/tasks?" + urllib.parse.urlencode({"limit": 7, "cursor": cursor}))
        assert page.status == 200, page.body
        served += [d["taskId"] for d in page.json["items"]]
        positions.add(page.headers["X-Stream-Position"])
        cursor = page.json["next"]
        time.sleep(0.05)
    assert served == sorted(set(served))
    assert set(served) == set(pipeline.scenario.task_truth)
    pipeline.wait_for_truth(api)
    pipeline.wait_for_truth(pipeline.replica)
    assert len(positions) > 1 or api.get("/tasks?limit=1").headers["X-Stream-Position"] != (
        start_position
    ), "the documents changed while paging"
    # resume on the replica from the last event the first client got
    rest = read_events(pipeline.replica, "/stream?kind=task", last_event_id=seen_first[-1].id)
    changes = [e for e in rest if e.event == "task"]
    assert [e.event for e in rest] == ["task"] * len(changes) + ["ready"]
    got = {(e.data["key"], e.data["revision"]) for e in seen_first + changes}
    assert len(got) == len(seen_first) + len(changes), "an event came twice"
    captured = {key for _, _, event in pipeline.held_back for key in [event["data"]["taskId"]]}
    newest = {}
    for key, revision in got:
        newest[key] = max(revision, newest.get(key, 0))
    for key in captured:
        assert newest.get(key) == pipeline.scenario.task_truth[key]["revision"], key


def test_documents_equal_the_ground_truth(pipeline: Pipeline) -> None:
    pipeline.wait_for_truth(pipeline.api)
    truth = pipeline.scenario
    some_agent, some_task = next(iter(truth.agent_truth)), next(iter(truth.task_truth))
    assert pipeline.get(f"/agents/{some_agent}").json == truth.agent_truth[some_agent]
    assert pipeline.get(f"/tasks/{some_task}").json == truth.task_truth[some_task]
    assert pipeline.get("/agents/nobody").status == 404
    assert pipeline.get("/tasks/nothing").status == 404
    # filters against the truth
    queue = truth.directory.queues[1].id
    ended_tasks = sorted(
        k for k, d in truth.task_truth.items()
        if d["queueId"] == queue and d["channelType"] == "telephony"
    )  # fmt: skip
    got = pipeline.api.all_pages("/tasks", limit=3, queue=queue, channel="telephony")
    assert [d["taskId"] for d in got] == ended_tasks
    middle = truth.config.start_ms + 3 * HOUR_MS
    created = sorted(k for k, d in truth.task_truth.items() if (d["newTime"] or 0) >= middle)
    got = pipeline.api.all_pages("/tasks", limit=50, createdFrom=str(middle))
    assert [d["taskId"] for d in got] == created
    team = truth.directory.teams[1].id
    team_agents = sorted(k for k, d in truth.agent_truth.items() if d["teamId"] == team)
    got = pipeline.api.all_pages("/agents", limit=2, team=team, loggedIn="false")
    assert [d["agentId"] for d in got] == team_agents


def _figures(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """docs/api.md's window figures, computed here from truth documents."""
    answered = [t for t in tasks if t["connectedTime"] is not None]
    inbound = [t for t in tasks if t["direction"] == "INBOUND"]
    abandoned = [t for t in inbound if t["connectedTime"] is None]
    handle = [t["talkMs"] + t["holdMs"] + t["wrapUpMs"] for t in answered]
    waits = [t["queueWaitMs"] for t in tasks if t["queueWaitMs"] is not None]
    fast = [
        t for t in inbound
        if t["connectedTime"] is not None
        and t["connectedTime"] - (t["parkedTime"] if t["parkedTime"] is not None
                                  else t["newTime"]) <= SERVICE_LEVEL_MS
    ]  # fmt: skip
    return {
        "totalAcceptedTasks": len(answered),
        "totalAbandonedTasks": len(abandoned),
        "averageHandledTime": round(sum(handle) / len(handle)) if handle else None,
        "averageEnqueuedTime": round(sum(waits) / len(waits)) if waits else None,
        "serviceLevelThresholdPercentage": (
            round(len(fast) * 100 / len(inbound), 1) if inbound else None
        ),
        "serviceLevelOffered": len(inbound),
        "serviceLevelWithin": len(fast),
    }


def test_aggregates_equal_figures_computed_from_the_truth(pipeline: Pipeline) -> None:
    pipeline.wait_for_truth(pipeline.api)
    truth = pipeline.scenario
    start, end = truth.config.start_ms, truth.config.start_ms + 24 * HOUR_MS
    answer = pipeline.get(f"/aggregates?from={start}&to={end}")
    assert answer.status == 200, answer.body
    doc = answer.json
    tasks = list(truth.task_truth.values())
    assert all(start <= t["endedTime"] < end for t in tasks)
    assert doc["tasks"] == _figures(tasks)
    assert doc["tasks"]["totalAcceptedTasks"] > 50
    assert doc["tasks"]["totalAbandonedTasks"] > 0
    queues = sorted({t["queueId"] for t in tasks})
    assert doc["tasksByQueue"] == [
        {"queueId": q, **_figures([t for t in tasks if t["queueId"] == q])} for q in queues
    ]
    # the day is over: nobody waits, everybody logged out for (now - stateSince)
    assert doc["queues"] == []
    now = doc["now"]
    for team in doc["teams"]:
        agents = [a for a in truth.agent_truth.values() if a["teamId"] == team["teamId"]]
        assert team["agents"] == len(agents) > 0
        assert team["loggedIn"] == 0
        assert team["states"] == {"logged-out": {
            "agents": len(agents),
            "longestTimeInStateMs": max(now - a["stateSince"] for a in agents),
            "totalTimeInStateMs": sum(now - a["stateSince"] for a in agents),
        }}  # fmt: skip
    newest = max(d["lastEventTime"] for d in [*tasks, *truth.agent_truth.values()])
    assert doc["freshness"]["newestEventTime"] == newest
    # default window: since today's midnight (UTC by default), which the 2024 day is not in
    today = pipeline.get("/aggregates").json
    assert today["window"]["timeZone"] == "UTC"
    assert today["tasks"]["totalAcceptedTasks"] == 0


def test_tokens_and_scopes_are_enforced(pipeline: Pipeline) -> None:
    truth = pipeline.scenario
    mine, other = (t.id for t in truth.directory.teams[:2])
    token = pipeline.team_token
    mine_agent = next(k for k, d in truth.agent_truth.items() if d["teamId"] == mine)
    other_agent = next(k for k, d in truth.agent_truth.items() if d["teamId"] == other)
    some_task = next(iter(truth.task_truth))
    for path in ("/agents", "/tasks", "/aggregates", f"/agents/{mine_agent}", "/stream"):
        refused = pipeline.get(path, token=None)
        assert refused.status == 401, path
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert pipeline.get(path, token="not-a-token-of-ours-at-all").status == 401
    assert pipeline.get(f"/agents/{mine_agent}", token=token).status == 200
    for path in (f"/agents/{other_agent}", f"/agents?team={other}", f"/tasks/{some_task}",
                 f"/tasks?queue={truth.directory.queues[0].id}", f"/aggregates?team={other}",
                 f"/stream?team={other}"):  # fmt: skip
        answer = pipeline.get(path, token=token)
        assert answer.status == 403, (path, answer.body)
    listed = pipeline.get("/agents?limit=1000", token=token).json["items"]
    assert {d["teamId"] for d in listed} == {mine}
    assert pipeline.get("/tasks?limit=1000", token=token).json["items"] == []
    teams = pipeline.get("/aggregates", token=token).json["teams"]
    assert [t["teamId"] for t in teams] == [mine]
    events = read_events(pipeline.api, f"/stream?team={mine}", max_events=1)
    assert events[0].event == "ready"
    assert pipeline.get("/healthz", token=None).status == 200
    assert pipeline.get("/metrics", token=None).status == 200
    assert pipeline.get("/agents?limit=0").status == 400
    assert pipeline.get("/tasks?cursor=garbage").json["parameter"] == "cursor"


def test_every_answer_validates_against_the_openapi_description(pipeline: Pipeline) -> None:
    from openapi_spec_validator import validate

    spec = openapi_document()
    validate(spec)
    for path in ("/readyz", "/healthz", "/openapi.json", "/agents?limit=5", "/tasks?limit=5",
                 "/aggregates", "/agents/x", "/tasks?limit=x"):  # fmt: skip
        pipeline.get(path)
    registry = Registry().with_resource("urn:api", DRAFT202012.create_resource(spec))
    checked: set[tuple[str, int]] = set()
    for path, answer in pipeline.answers:
        if path.startswith("/openapi.json") or answer.status == 0:
            continue
        template = _template(spec, urllib.parse.urlsplit(path).path)
        response = spec["paths"][template]["get"]["responses"][str(answer.status)]
        if not any(m.endswith("json") for m in response["content"]):
            continue  # the event stream and the Prometheus text
        (media,) = response["content"]
        assert answer.headers["Content-Type"].startswith(media), (path, answer.headers)
        pointer = "urn:api#/" + "/".join(
            part.replace("/", "~1")
            for part in ("paths", template, "get", "responses", str(answer.status), "content",
                         media, "schema")
        )  # fmt: skip
        Draft202012Validator({"$ref": pointer}, registry=registry).validate(answer.json)
        checked.add((template, answer.status))
    # every 200 of a JSON path was seen, and every kind of refusal somewhere
    documented = {(p, 200) for p in spec["paths"] if p not in ("/stream", "/metrics")}
    assert documented <= checked, sorted(documented - checked)
    assert {400, 401, 403, 404} <= {status for _, status in checked}


def _template(spec: dict[str, Any], path: str) -> str:
    if path in spec["paths"]:
        return path
    head = path.rsplit("/", 1)[0]
    return next(p for p in spec["paths"] if p.startswith(head + "/{"))


ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "wallboard"


def _browser(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 f"--user-data-dir={profile}", "--window-size=1600,1000"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def _wait(what: str, check: Any, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # the page is still building: look again
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout_s} s (last: {last!r})")


def test_wallboard_in_headless_chromium_shows_the_day_and_follows_a_new_webhook(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """The page in Debian's Chromium: asks for the token once, shows the day's figures and
    each team's agents, then a signed agent:login posted to a real ingress turns its
    agent's tile to idle without a reload. Screenshots in var/test-artifacts/wallboard/.
    (Last in the module: the new login changes the truth the other tests compare with.)"""
    from selenium.webdriver.common.by import By

    from tests.e2e.test_pipeline_ingress import SECRET, _ingress
    from wxcc_stream.devtools.scenario import DEFAULT_SUBSCRIPTION_ID
    from wxcc_stream.devtools.simulator import SendConfig, SigningKeys, send_events

    pipeline.wait_for_truth(pipeline.api)
    truth = pipeline.scenario
    start, end = truth.config.start_ms, truth.config.start_ms + 24 * HOUR_MS
    tasks = list(truth.task_truth.values())
    handled = sum(1 for t in tasks if t["connectedTime"] is not None)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser = _browser(tmp_path / "chromium-profile")
    try:
        browser.get(f"{pipeline.api.base}/wallboard?from={start}&to={end}")
        _wait("the token form", lambda: browser.find_element(By.ID, "token").is_displayed())
        browser.find_element(By.ID, "token").send_keys(ADMIN_TOKEN)
        browser.find_element(By.CSS_SELECTOR, "#login button").click()
        text = lambda testid: browser.find_element(By.CSS_SELECTOR, f"[data-testid={testid}]").text  # noqa: E731
        _wait("handled count", lambda: text("kpi-handled") == str(handled))
        abandoned = sum(
            1 for t in tasks if t["connectedTime"] is None and t["direction"] == "INBOUND"
        )
        assert text("kpi-abandoned") == str(abandoned)
        for team in truth.directory.teams:
            members = sum(1 for a in truth.agent_truth.values() if a["teamId"] == team.id)
            summary = browser.find_element(
                By.CSS_SELECTOR, f'[data-team="{team.id}"] [data-testid=team-summary]'
            ).text
            assert summary == f"logged-out {members}"
        # the 2024 day is long over: the freshness indicator says so in red
        assert browser.find_element(By.ID, "freshness").get_attribute("data-stale") == "true"
        agent = truth.directory.agents[0].id
        tile = f'[data-agent="{agent}"]'
        first = browser.find_element(By.CSS_SELECTOR, f"{tile} .time").text
        _wait("time in state ticking", lambda: browser.find_element(
            By.CSS_SELECTOR, f"{tile} .time").text != first, timeout_s=5)  # fmt: skip
        browser.save_screenshot(str(ARTIFACTS / "day-loaded.png"))

        login = {
            "id": "wallboard-test-login-0001", "specversion": "1.0", "type": "agent:login",
            "source": truth.config.source, "comciscoorgid": truth.config.org_id,
            "datacontenttype": "application/json",
            "data": {"agentId": agent, "currentState": "idle",
                     "createdTime": truth.agent_truth[agent]["lastEventTime"] + 60_000,
                     "teamId": truth.directory.agents[0].team_id},
        }  # fmt: skip

        async def post() -> None:
            async with _ingress(pipeline.settings, tmp_path / "ingress.log") as target:
                summary = await send_events(
                    [login], SendConfig(target=target, rate=None, concurrency=1),
                    SigningKeys(by_subscription={DEFAULT_SUBSCRIPTION_ID: SECRET.encode()}),
                )  # fmt: skip
                assert summary.accepted == 1, summary.lines()

        posted = time.monotonic()
        asyncio.run(post())
        try:
            _wait(
                "the agent's tile turns idle",
                lambda: (
                    browser.find_element(By.CSS_SELECTOR, tile).get_attribute("data-state")
                    == "idle"
                ),
                timeout_s=30,
            )
        except AssertionError:
            api_doc = pipeline.api.get(f"/agents/{agent}").json
            logs = browser.get_log("browser") if hasattr(browser, "get_log") else []
            raise AssertionError(
                f"API has {api_doc['state']} rev {api_doc['revision']}; "
                f"console {logs}\n{pipeline.worker.log_tail(15)}"
            ) from None
        print(f"tile changed {time.monotonic() - posted:.1f} s after the webhook was posted")
        summary = browser.find_element(
            By.CSS_SELECTOR, f'[data-team="{truth.directory.agents[0].team_id}"] '
            "[data-testid=team-summary]",
        ).text  # fmt: skip
        assert "idle 1" in summary
        browser.save_screenshot(str(ARTIFACTS / "after-webhook.png"))
    finally:
        browser.quit()

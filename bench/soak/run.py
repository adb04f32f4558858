"""The soak (issue 18): steady signed webhooks of a generated day, with duplicates, disorder
and 2 % of them dropped, through a real ingress -> Kafka -> worker -> projections; in the
middle a worker SIGKILLed and restarted, a second worker joining, the broker restarted and
a reconciliation run against the WxCC API simulator; at the end a last reconciliation run
and the checks of `bench.soak.checks`, with the RSS of every process over time.

    python -m bench.soak --minutes 10

The parts are the e2e tests' own (tests/e2e: the worker and ingress children, the sender
that retries refusals like WxCC, the projection reader, the restorable view of the
reconciliation test); `tests/e2e/test_soak.py` runs the same soak short and asserts it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.soak.checks import (
    Observed,
    RssSample,
    Window,
    after_warmup,
    problems,
    rss_lines,
    slope_per_minute,
    status_counts,
)
from bench.soak.series import accepted_per_second, latency_quantile, rss_mib
from tests.e2e.cluster_harness import Fault, Traffic, run_faults, send_with_retries
from tests.e2e.harness import ProjectionReader, WorkerProcess, describe_difference, read_topic
from tests.e2e.test_pipeline_ingress import FAST, SECRET, _ingress
from tests.e2e.test_reconcile_pipeline import _view, _wait_restored
from tests.reconcile_support import SIM_TOKENS, command_env
from wxcc_stream.base.settings import Settings, load_settings, with_overrides
from wxcc_stream.devtools.broker import BrokerConfig, LocalBroker, ensure_jars
from wxcc_stream.devtools.broker.process import free_port, listener_pid
from wxcc_stream.devtools.scenario import (
    DEFAULT_SUBSCRIPTION_ID,
    HOUR_MS,
    DamageConfig,
    Delivery,
    Scenario,
    ScenarioConfig,
    damage,
    generate,
)
from wxcc_stream.devtools.simulator import SigningKeys
from wxcc_stream.devtools.wxcc_api import ApiSimConfig, build_app, serve

ROOT = Path(__file__).resolve().parents[2]
# a generated day has about this many events per agent-hour; sizes the day to the traffic
EVENTS_PER_AGENT_HOUR = 50
DAY_HOURS = 8
# 503s are explained from the broker's stop until this long after it answers again: the
# producers' reconnection and metadata refresh on two loaded cores (the failover tests' margin)
AFTER_RESTART_S = 30.0
INJECTED = re.compile(r"injected (\d[\d,]*) and (\d[\d,]*) task summaries")


@dataclass(frozen=True, slots=True)
class SoakConfig:
    """How long the traffic lasts, how fast, and the damage of the delivery."""

    traffic_s: float
    rate: float = 40.0  # events/s, steady (the day is sized to rate x traffic_s)
    seed: int = 18
    drop_fraction: float = 0.02
    duplicate_fraction: float = 0.05
    shuffle_window_ms: int = 5_000
    sample_every_s: float = 1.0
    converge_timeout_s: float = 240.0

    def scenario(self) -> ScenarioConfig:
        agents = max(4, math.ceil(self.rate * self.traffic_s / (EVENTS_PER_AGENT_HOUR * DAY_HOURS)))
        return ScenarioConfig(
            seed=self.seed, agents=agents, teams=max(1, agents // 10), queues=3,
            duration_ms=DAY_HOURS * HOUR_MS,
        )  # fmt: skip

    def damage(self) -> DamageConfig:
        return DamageConfig(
            seed=self.seed, shuffle_window_ms=self.shuffle_window_ms,
            duplicate_fraction=self.duplicate_fraction, drop_fraction=self.drop_fraction,
        )  # fmt: skip


@dataclass
class SoakReport:
    """What the soak saw and measured; `problems()` judges it."""

    config: SoakConfig
    events: int
    deliveries: int
    dropped: int
    observed: Observed
    faults: list[Fault]
    reconciled: list[tuple[str, int, int]] = field(default_factory=list)  # (run, events, tasks)
    converged_s: float | None = None
    wall_s: float = 0.0
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (at, answer s)

    def problems(self) -> list[str]:
        return problems(self.observed)

    def rss_slopes(self) -> dict[str, float | None]:
        """MiB/min after warm-up, per process (a restarted worker is a new process)."""
        return {k: slope_per_minute(after_warmup(v)) for k, v in self.observed.rss.items()}

    def lines(self) -> list[str]:
        o = self.observed
        out = [
            f"soak: {self.events:,} events of a generated day as {self.deliveries:,} deliveries "
            f"({self.dropped:,} dropped) over {self.config.traffic_s:.0f} s at "
            f"{self.config.rate:.0f}/s; wall {self.wall_s:.0f} s",
            f"answers {status_counts(o.answers)}; accepted {len(o.accepted):,} distinct events, "
            f"raw topic holds {len(o.stored):,}",
            "faults: " + ", ".join(f"{f.what} at {f.at:.1f} s" for f in self.faults),
            "reconcile: "
            + ", ".join(
                f"{run} injected {n:,} events and {t:,} task summaries"
                for run, n, t in self.reconciled
            ),
            "projections "
            + (
                f"equal the truth (restorable fields) {self.converged_s:.1f} s after the last "
                "reconciliation run and the raw topic's read"
                if self.converged_s is not None
                else "did NOT reach the truth"
            ),
            *rss_lines(o.rss),
        ]
        bad = self.problems()
        out.append("PASSED: no problem" if not bad else f"FAILED: {len(bad)} problem(s)")
        out += [f"  - {p}" for p in bad]
        return out

    def as_dict(self) -> dict[str, Any]:
        """The figures, for a results file."""
        return {
            "events": self.events, "deliveries": self.deliveries, "dropped": self.dropped,
            "traffic_s": self.config.traffic_s, "rate": self.config.rate,
            "answers": {str(k): v for k, v in status_counts(self.observed.answers).items()},
            "faults": [(f.what, round(f.at, 1)) for f in self.faults],
            "reconciled": self.reconciled, "converged_s": self.converged_s,
            "rss_mib": rss_mib(self.observed.rss),
            "rss_slope_mib_per_min": self.rss_slopes(), "problems": self.problems(),
            "wall_s": self.wall_s,
            "accepted_per_s": accepted_per_second(self.observed.answers),
            "answer_p99_ms": latency_quantile(self.latencies),
        }  # fmt: skip


def _settings(bootstrap: str) -> Settings:
    base = load_settings({})
    return with_overrides(
        base,
        kafka=with_overrides(base.kafka, bootstrap=bootstrap),
        topic=with_overrides(base.topic, prefix=f"soak{uuid.uuid4().hex[:8]}"),
    )


def _rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


async def _sample_rss(
    pids: dict[str, Callable[[], int | None]],
    into: dict[str, list[RssSample]],
    started: float,
    every_s: float,
) -> None:
    """Every `every_s`, each process's RSS under "name (pid N)": a restart is a new series."""
    while True:
        for name, pid_of in pids.items():
            pid = pid_of()
            rss = _rss(pid) if pid else None
            if pid and rss is not None:
                into.setdefault(f"{name} (pid {pid})", []).append(
                    RssSample(time.monotonic() - started, rss)
                )
        await asyncio.sleep(every_s)


async def _report_progress(traffic: Traffic, total: int, say: Callable[[str], None]) -> None:
    every = 5.0
    while True:
        await asyncio.sleep(every)
        say(
            f"[soak {time.monotonic() - traffic.started:5.1f} s] accepted "
            f"{len(traffic.accepted):,}/{total:,} | answers {status_counts(traffic.answers)}"
        )


async def _restart(broker: LocalBroker) -> None:
    """Controlled stop and start again on the same data, without blocking the loop the
    sender shares (the JVM itself is spawned from the main thread: it dies with us)."""
    await asyncio.to_thread(broker.stop)
    await asyncio.to_thread(broker.prepare)
    offset = broker.spawn()
    await asyncio.to_thread(broker.wait_started, offset, 120.0)


async def _reconcile(env: dict[str, str], since: int, until: int, log: Path) -> tuple[int, int]:
    """One `wxcc-stream reconcile` child over [since, until): (events, task summaries)
    injected; raises with the log when it fails."""
    with log.open("wb") as out:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "wxcc_stream.cli", "reconcile", "--quiet",
            "--since", str(since), "--until", str(until),
            cwd=ROOT, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        code = await child.wait()
    text = await asyncio.to_thread(log.read_text, errors="replace")
    found = INJECTED.findall(text)
    if code != 0 or not found:
        raise RuntimeError(f"reconcile exited with {code}:\n{text[-3000:]}")
    events, tasks = found[-1]
    return int(events.replace(",", "")), int(tasks.replace(",", ""))


@dataclass
class Pace:
    """The sender's rate, asked once per event: steady, except that while faults are still
    due and fewer than `TAIL_S` seconds of events are left, it slows down so that traffic
    still flows through the last fault (a loaded machine makes the faults take longer)."""

    rate: float
    total: int
    faults_done: Callable[[], bool]
    asked: int = 0

    TAIL_S = 10.0

    def __call__(self) -> float:
        self.asked += 1
        left = self.total - self.asked
        if self.faults_done() or left >= self.rate * self.TAIL_S:
            return self.rate
        return max(1.0, left / self.TAIL_S)


@dataclass
class _Run:
    """The moving parts of one soak, for its fault steps."""

    settings: Settings
    broker: LocalBroker
    work: Path
    delivery: Delivery
    traffic: Traffic
    workers: list[WorkerProcess]
    windows: list[Window] = field(default_factory=list)
    reconciled: list[tuple[str, int, int]] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)

    say: Callable[[str], None] = print

    def now(self) -> float:
        return time.monotonic() - self.traffic.started

    def announced(
        self, what: str, act: Callable[[], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        """`act`, saying when it begins and ends (the progress lines show the faults)."""

        async def step() -> None:
            self.say(f"[soak {self.now():5.1f} s] {what} ...")
            await act()
            self.say(f"[soak {self.now():5.1f} s] {what}: done")

        return step

    async def kill_and_restart_worker(self) -> None:
        worker = self.workers[0]
        worker.kill()
        worker.start()

    async def second_worker_joins(self) -> None:
        self.workers.append(
            WorkerProcess(self.settings, self.work / "w2", name="worker-2", overrides=FAST).start()
        )

    async def restart_broker(self) -> None:
        # a worker still starting would find no broker to create its topics on and stop
        # (as it should: its supervisor starts it again); the soak restarts a running system
        for worker in self.workers:
            await worker.wait_ready(timeout_s=180)
        began = self.now()
        await _restart(self.broker)
        self.windows.append(Window(began, self.now() + AFTER_RESTART_S, "broker restart"))

    async def reconcile(self, env: dict[str, str], since: int, run: str) -> None:
        # up to the newest event accepted so far: what an hourly run would cover
        sent = max(1, len(self.traffic.accepted))
        until = self.delivery.deliveries[min(sent, len(self.delivery.deliveries)) - 1][0]
        try:
            events, tasks = await _reconcile(env, since, until, self.work / "reconcile-mid.log")
            self.reconciled.append((run, events, tasks))
        except RuntimeError as exc:
            self.incidents.append(f"{run}: {exc}")


def _schedule(run: _Run, env: dict[str, str], since: int, traffic_s: float) -> list[
    tuple[float, str, Callable[[], Awaitable[None]]]
]:  # fmt: skip
    """The faults, each this long after the previous one finished: spread over the first
    ~70 % of the traffic so the pipeline runs on after each."""
    step = traffic_s * 0.12
    steps: list[tuple[float, str, Callable[[], Awaitable[None]]]] = [
        (step, "worker-1 SIGKILL + restart", run.kill_and_restart_worker),
        (step, "worker-2 joins", run.second_worker_joins),
        (step, "broker restart", run.restart_broker),
        (step / 2, "reconcile run", lambda: run.reconcile(env, since, "mid-soak run")),
    ]
    return [(delay, what, run.announced(what, act)) for delay, what, act in steps]


async def run_soak(
    broker: LocalBroker, work: Path, config: SoakConfig, say: Callable[[str], None] = print
) -> SoakReport:
    """The whole soak against `broker` (which it restarts midway); files under `work`."""
    wall = time.monotonic()
    settings = _settings(broker.bootstrap)
    scenario: Scenario = generate(config.scenario())
    delivery = damage(scenario.events, config.damage())
    events = [event for _, event in delivery.deliveries]
    since, until = scenario.config.start_ms - HOUR_MS, scenario.config.end_ms + 3 * HOUR_MS
    kinds = {settings.topic.agent_state: "agent", settings.topic.task_lifecycle: "task"}
    truth = {
        settings.topic.agent_state: _view("agent", scenario.agent_truth),
        settings.topic.task_lifecycle: _view("task", scenario.task_truth),
    }
    say(
        f"soak: {len(scenario.events):,} events ({scenario.config.agents} agents, "
        f"{len(scenario.task_truth):,} tasks), {len(events):,} deliveries, "
        f"{len(delivery.dropped):,} dropped; traffic {config.traffic_s:.0f} s; files in {work}"
    )
    keys = SigningKeys(by_subscription={DEFAULT_SUBSCRIPTION_ID: SECRET.encode()})
    worker = WorkerProcess(settings, work / "w1", name="worker-1", overrides=FAST).start()
    rss: dict[str, list[RssSample]] = {}
    run = _Run(settings, broker, work, delivery, Traffic(), [worker], say=say)
    try:
        await worker.wait_ready(timeout_s=180)
        sim = ApiSimConfig(tokens=SIM_TOKENS, rate_limit_per_minute=None)
        async with (
            serve(build_app(scenario, sim)) as api,
            _ingress(settings, work / "ingress.log") as target,
        ):
            env = command_env(settings, api, scenario, REQUESTS_PER_MINUTE="60000")
            ingress_pid = listener_pid(urlsplit(target).port or 0)
            pids: dict[str, Callable[[], int | None]] = {"ingress": lambda: ingress_pid}
            for i in (0, 1):
                pids[f"worker-{i + 1}"] = lambda i=i: (
                    run.workers[i].proc.pid  # type: ignore[union-attr]
                    if len(run.workers) > i and run.workers[i].proc
                    else None
                )
            run.traffic = Traffic()
            helpers = [
                asyncio.create_task(
                    _sample_rss(pids, rss, run.traffic.started, config.sample_every_s)
                ),
                asyncio.create_task(_report_progress(run.traffic, len(events), say)),
            ]
            schedule = asyncio.create_task(
                run_faults(run.traffic, _schedule(run, env, since, config.traffic_s))
            )
            pace = Pace(len(events) / config.traffic_s, len(events), schedule.done)
            try:
                await send_with_retries(target, events, keys, run.traffic, rate=pace)
                run.traffic.faults = await schedule
                say(f"traffic done at {run.now():.0f} s; the last reconciliation run ...")
                events_n, tasks_n = await _reconcile(
                    env, since, until, work / "reconcile-final.log"
                )
                run.reconciled.append(("final run", events_n, tasks_n))
            finally:
                schedule.cancel()
                for helper in helpers:
                    helper.cancel()
        stored = {
            dict(r.headers).get("ce_id", b"").decode()
            for r in await read_topic(
                settings.kafka.bootstrap, settings.topic.raw, idle_s=3.0, timeout_s=300.0
            )
        }
        say(f"raw topic read ({len(stored):,} distinct ids); waiting for the projections ...")
        began = time.monotonic()
        async with ProjectionReader(settings.kafka.bootstrap, list(truth)) as reader:
            equal = await _wait_restored(reader, truth, kinds, timeout_s=config.converge_timeout_s)
            difference = None
            if not equal:
                difference = "\n".join(
                    f"{t}: {describe_difference(_view(kinds[t], reader.docs[t]), want)}"
                    for t, want in truth.items()
                )
        for w in run.workers:
            if w.proc is not None and w.proc.poll() is not None:
                run.incidents.append(f"{w.name} exited:\n{w.log_tail(30)}")
        observed = Observed(
            answers=run.traffic.answers, accepted=run.traffic.accepted, stored=stored,
            unsent=run.traffic.unsent, explained_503=run.windows,
            projection_difference=difference, rss=rss, incidents=run.incidents,
        )  # fmt: skip
        return SoakReport(
            config=config, events=len(scenario.events), deliveries=len(events),
            dropped=len(delivery.dropped), observed=observed, faults=run.traffic.faults,
            reconciled=run.reconciled,
            converged_s=time.monotonic() - began if equal else None,
            wall_s=time.monotonic() - wall, latencies=run.traffic.latencies,
        )  # fmt: skip
    finally:
        for w in run.workers:
            w.stop()


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description="The soak: steady damaged webhooks through ingress -> Kafka -> worker "
        "-> projections, with a worker SIGKILL + restart, a second worker, a broker restart "
        "and reconciliation runs; then the checks (projections equal the truth, every "
        "accepted event stored, no unexplained 5xx) and the RSS slope of every process. "
        "Exit code 0: passed, 1: a check failed.",
    )
    p.add_argument("--minutes", type=float, default=5.0, help="traffic duration (default 5)")
    p.add_argument("--rate", type=float, default=40.0, help="events/s (default 40)")
    p.add_argument("--seed", type=int, default=18)
    p.add_argument("--keep", type=Path, help="keep the logs and data in this directory")
    p.add_argument("--json", type=Path, help="write the figures to this JSON file")
    return p.parse_args(argv)


async def _main(args: argparse.Namespace, work: Path) -> SoakReport:
    cfg = BrokerConfig("127.0.0.1", free_port(), free_port(), work / "kafka", heap_mb=512)
    broker = LocalBroker(cfg, ensure_jars())
    print("starting a private Kafka broker ...", flush=True)
    await asyncio.to_thread(broker.prepare)
    offset = broker.spawn()
    await asyncio.to_thread(broker.wait_started, offset, 120.0)
    try:
        config = SoakConfig(traffic_s=args.minutes * 60, rate=args.rate, seed=args.seed)
        return await run_soak(broker, work, config, lambda s: print(s, flush=True))
    finally:
        await asyncio.to_thread(broker.stop)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        report = asyncio.run(_main(args, args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
            report = asyncio.run(_main(args, Path(tmp)))
    print(*report.lines(), sep="\n")
    if args.json:
        import orjson

        args.json.write_bytes(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2))
    return 1 if report.problems() else 0

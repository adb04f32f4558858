"""Run `wxcc-stream worker` processes against the real broker, feed them, read them back."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.broker.process import free_port
from wxcc_stream.schemas.cloudevent import parse_event

ROOT = Path(__file__).resolve().parents[2]

RawRecord = tuple[bytes, bytes, list[tuple[str, bytes]]]
"""(key, body, headers) as the ingress publishes it to the raw topic."""


def worker_env(settings: Settings, **worker: Any) -> dict[str, str]:
    """Environment for a worker child: broker, topics and WXCC_WORKER_* overrides."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WXCC_") and k not in ("KAFKA_BOOTSTRAP",)
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["WXCC_KAFKA_BOOTSTRAP"] = settings.kafka.bootstrap
    env["WXCC_TOPIC_PREFIX"] = settings.topic.prefix
    env["WXCC_TOPIC_PARTITIONS"] = str(settings.topic.partitions)
    env["WXCC_TOPIC_REPLICATION_FACTOR"] = str(settings.topic.replication_factor)
    env["WXCC_TOPIC_MIN_INSYNC_REPLICAS"] = str(settings.topic.min_insync_replicas)
    env["WXCC_LOG_LEVEL"] = "INFO"
    for name, value in worker.items():
        env[f"WXCC_WORKER_{name.upper()}"] = str(value)
    return env


class ChildProcess:
    """What every child of these tests shares: started in its own session, killed or
    stopped as a group, GET on its web port, its log's tail for assertion messages."""

    name: str
    proc: subprocess.Popen[bytes] | None
    log_path: Path
    web_port: int

    def get(self, path: str) -> tuple[int, bytes]:
        """GET a path of the child's web port: (status, body); (0, b"") if it is down."""
        url = f"http://127.0.0.1:{self.web_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError):
            return 0, b""

    def assert_running(self) -> None:
        assert self.proc is not None, "not started"
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(f"{self.name} exited with {code}:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no commit."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not stop in time."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class WorkerProcess(ChildProcess):
    """One `python -m wxcc_stream.cli worker` child with its own data dir and web port."""

    settings: Settings
    data_dir: Path
    name: str = "worker"
    overrides: Mapping[str, Any] = field(default_factory=dict)
    web_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.name}.log"

    def start(self) -> WorkerProcess:
        """Start the child (again, after a kill: same data dir, same group)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = worker_env(
            self.settings, data_dir=self.data_dir, web_port=self.web_port, **self.overrides
        )
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wxcc_stream.cli", "worker"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        return self

    def readiness(self) -> dict[str, Any] | None:
        status, body = self.get("/readyz")
        if status == 0 or not body:
            return None
        doc: dict[str, Any] = orjson.loads(body)
        return doc

    async def wait_ready(self, timeout_s: float = 90.0, *, assigned: bool = True) -> dict[str, Any]:
        """Until /readyz answers 200 (and partitions are assigned); fails with the log tail."""
        deadline = time.monotonic() + timeout_s
        doc: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            self.assert_running()
            doc = self.readiness()
            if doc and doc.get("ready") and (doc.get("partitions") or not assigned):
                return doc
            await asyncio.sleep(0.5)
        raise AssertionError(f"{self.name} not ready in {timeout_s} s: {doc}\n{self.log_tail()}")

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample of /metrics (0 when absent)."""
        _, body = self.get("/metrics")
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in body.decode().splitlines():
            if line.startswith("#"):
                continue
            head, _, value = line.rpartition(" ")
            sample, _, label_text = head.partition("{")
            found = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
            if sample == name and found == want:
                return float(value)
        return 0.0


def entity_key(event: Mapping[str, Any]) -> bytes:
    """The raw topic key the ingress uses: the event's primary entity id."""
    return parse_event(event, received_at=0).entity_id.encode()


def raw_records(
    events: Iterable[Mapping[str, Any]],
) -> list[tuple[bytes, bytes, Mapping[str, Any]]]:
    """(key, body, event) for each event, the body encoded once as the vendor would send it."""
    return [(entity_key(e), orjson.dumps(e), e) for e in events]


def raw_headers(event: Mapping[str, Any], received_at: int) -> list[tuple[str, bytes]]:
    return [
        ("ce_id", str(event.get("id", "")).encode()),
        ("ce_type", str(event.get("type", "")).encode()),
        ("ce_source", str(event.get("source", "")).encode()),
        ("received_at", str(received_at).encode()),
    ]


async def produce_raw(
    bootstrap: str,
    topic: str,
    records: Sequence[tuple[bytes, bytes, Mapping[str, Any]]],
    *,
    rate_per_s: float | None = None,
    received_at: int | None = None,
) -> None:
    """Publish to the raw topic like the ingress (idempotent, acks=all), optionally paced.

    `received_at` fixes the receive time header (default: the wall clock at send).
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        pending = []
        for i, (key, body, event) in enumerate(records):
            received = received_at if received_at is not None else int(time.time() * 1000)
            pending.append(
                await producer.send(
                    topic, value=body, key=key, headers=raw_headers(event, received)
                )
            )
            if rate_per_s:
                ahead = started + (i + 1) / rate_per_s - loop.time()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


@dataclass
class ProjectionReader:
    """A plain consumer of the projection topics that keeps the highest revision per key."""

    bootstrap: str
    topics: Sequence[str]
    docs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    raw: dict[str, dict[str, bytes]] = field(default_factory=dict)
    records: int = 0
    _consumer: Any = None

    async def __aenter__(self) -> ProjectionReader:
        self._consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            isolation_level="read_committed",
            metadata_max_age_ms=1000,
        )
        await self._consumer.start()
        for topic in self.topics:
            self.docs.setdefault(topic, {})
            self.raw.setdefault(topic, {})
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def poll(self, timeout_ms: int = 250) -> int:
        """Fetch what is there; returns how many records came."""
        batch = await self._consumer.getmany(timeout_ms=timeout_ms)
        count = 0
        for tp, records in batch.items():
            docs, raws = self.docs[tp.topic], self.raw[tp.topic]
            for record in records:
                count += 1
                key = record.key.decode()
                doc = orjson.loads(record.value)
                held = docs.get(key)
                if held is None or doc["revision"] >= held["revision"]:
                    docs[key] = doc
                    raws[key] = record.value
        self.records += count
        return count

    async def wait_for(
        self,
        expected: Mapping[str, Mapping[str, Mapping[str, Any]]],
        timeout_s: float,
        *,
        hold_s: float = 2.0,
    ) -> bool:
        """Read until the documents of every topic equal `expected` and still do after
        `hold_s` more of reading (True), or time runs out: a late over-count or a
        correction after the first equal moment fails, not only a shortfall."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        equal_since: float | None = None
        while loop.time() < deadline:
            await self.poll()
            if all(self.docs[t] == expected[t] for t in expected):
                if equal_since is None:
                    equal_since = loop.time()
                elif loop.time() - equal_since >= hold_s:
                    return True
            else:
                equal_since = None
        return False

    async def settle(self, quiet_s: float = 2.0, timeout_s: float = 60.0) -> None:
        """Read until nothing new came for `quiet_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        quiet_since = loop.time()
        while loop.time() < deadline and loop.time() - quiet_since < quiet_s:
            if await self.poll():
                quiet_since = loop.time()


def describe_difference(
    got: Mapping[str, Mapping[str, Any]], want: Mapping[str, Mapping[str, Any]], limit: int = 3
) -> str:
    """A short account of how two key -> document maps differ, for assertion messages."""
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    lines = [f"{len(got)} documents, {len(want)} expected"]
    if missing:
        lines.append(f"missing {len(missing)}: {missing[:limit]}")
    if extra:
        lines.append(f"unexpected {len(extra)}: {extra[:limit]}")
    differing = [k for k in sorted(set(got) & set(want)) if got[k] != want[k]]
    if differing:
        lines.append(f"{len(differing)} differ, e.g.:")
    for key in differing[:limit]:
        fields = sorted(set(got[key]) | set(want[key]))
        delta = {
            f: (got[key].get(f), want[key].get(f))
            for f in fields
            if got[key].get(f) != want[key].get(f)
        }
        lines.append(f"  {key}: (got, want) {delta}")
    return "\n".join(lines)


async def read_topic(
    bootstrap: str, topic: str, *, idle_s: float = 1.5, timeout_s: float = 30.0
) -> list[Any]:
    """Every record of a topic (until nothing new came for `idle_s`)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[Any] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        idle_since = loop.time()
        while loop.time() < deadline and loop.time() - idle_since < idle_s:
            batch = await consumer.getmany(timeout_ms=250)
            got = [r for records in batch.values() for r in records]
            if got:
                idle_since = loop.time()
                out.extend(got)
    finally:
        await consumer.stop()
    return out

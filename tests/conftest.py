"""Shared fixtures: one real Kafka broker per test session, private brokers on demand, and
one real PostgreSQL server per session (started by the first test that needs it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings

from wxcc_stream.base.settings import Settings, load_settings, with_overrides
from wxcc_stream.devtools.broker import (
    BrokerConfig,
    LocalBroker,
    LocalCluster,
    cluster_configs,
    ensure_jars,
)
from wxcc_stream.devtools.broker.process import free_port
from wxcc_stream.devtools.postgres import LocalPostgres

# Wall-clock deadlines flake on a shared 2-core machine; CI runs derandomised so a red run
# is reproducible (local runs keep exploring new examples).
hypothesis_settings.register_profile(
    "dev", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# Mutation testing (bench/mutation) wants a verdict, not a minimal example: no shrinking.
hypothesis_settings.register_profile(
    "mutation",
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
if os.environ.get("WXCC_MUTATION"):
    hypothesis_settings.load_profile("mutation")
else:
    hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def soak_seconds() -> float:
    """How long a soak test (marked slow) runs: bounded in CI, hours when asked for."""
    return float(os.environ.get("WXCC_SOAK_SECONDS", "60"))


def _new_broker(jars: Path, data_dir: Path) -> LocalBroker:
    cfg = BrokerConfig("127.0.0.1", free_port(), free_port(), data_dir, heap_mb=384)
    return LocalBroker(cfg, jars)


@pytest.fixture(scope="session")
def broker_jars() -> Path:
    """The official Kafka jars, fetched with mvn on first use and cached."""
    return ensure_jars()


@pytest.fixture(scope="session")
def kafka_bootstrap(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Bootstrap address of the session's broker (or of `KAFKA_BOOTSTRAP` when set)."""
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    jars = request.getfixturevalue("broker_jars")
    broker = _new_broker(jars, tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def broker_factory(
    broker_jars: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], LocalBroker]]:
    """Start private brokers (for tests that stop or kill one); all stopped at teardown."""
    started: list[LocalBroker] = []

    def make() -> LocalBroker:
        broker = _new_broker(broker_jars, tmp_path_factory.mktemp("private-kafka"))
        started.append(broker)
        broker.start()
        return broker

    yield make
    for broker in started:
        broker.kill()


@pytest.fixture
def kafka_cluster(
    broker_jars: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalCluster]:
    """A private 3-node cluster (one quorum, topics with 3 replicas, min ISR 2) that a test
    may kill and restart node by node; stopped at teardown."""
    ports = [(free_port(), free_port()) for _ in range(3)]
    data_dir = tmp_path_factory.mktemp("kafka-cluster")
    cluster = LocalCluster(cluster_configs("127.0.0.1", ports, data_dir, heap_mb=320), broker_jars)
    cluster.start()
    try:
        yield cluster
    finally:
        # its data is thrown away: a short controlled stop, then SIGKILL (a node waiting for
        # controllers already gone used to hold the teardown for the whole 30 s)
        cluster.stop(timeout_s=5)
        cluster.kill_all()


@pytest.fixture
def topic_prefix() -> str:
    """A prefix no other test uses, so each test gets its own topics."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(kafka_bootstrap: str, topic_prefix: str) -> Settings:
    """Settings pointing at the session broker with this test's own topics."""
    base = load_settings({})
    return with_overrides(
        base,
        kafka=with_overrides(base.kafka, bootstrap=kafka_bootstrap),
        topic=with_overrides(base.topic, prefix=topic_prefix),
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A PostgreSQL server from Debian's binaries in a temporary directory, 127.0.0.1 only."""
    server = LocalPostgres().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_dsn(postgres_server: LocalPostgres) -> str:
    """The connection string of a fresh, empty database for this test."""
    import psycopg

    name = f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}".encode())
    return postgres_server.dsn(name)

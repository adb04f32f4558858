"""One frozen settings object, read from the environment (and an optional TOML file).

Every field of section `S` and name `N` is set by the environment variable `WXCC_S_N`
(upper case), or by key `N` of table `[S]` in the file named by `WXCC_CONFIG`; the
environment wins. Values are converted by the field's type and checked at start, so a
bad value stops the process with a message naming the variable.
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_PREFIX = "WXCC_"


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """How to reach Kafka."""

    bootstrap: str = "127.0.0.1:9092"
    client_id: str = "wxcc-stream"


@dataclass(frozen=True, slots=True)
class TopicSettings:
    """Topic names; the prefix lets several environments share a cluster."""

    prefix: str = "wxcc"
    partitions: int = 4
    # every topic the project creates (changelogs included): 1 on one broker; 3 and 2 on a
    # cluster, so an acks=all write is on two brokers and one broker may be lost
    replication_factor: int = 1
    min_insync_replicas: int = 1

    def configs(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """A created topic's configs: `min.insync.replicas` from the settings, then `extra`."""
        return {"min.insync.replicas": str(self.min_insync_replicas), **(extra or {})}

    def name(self, suffix: str) -> str:
        """Full topic name for a suffix such as `raw`."""
        return f"{self.prefix}.{suffix}"

    @property
    def raw(self) -> str:
        return self.name("raw")

    @property
    def deadletter(self) -> str:
        return self.name("deadletter")

    @property
    def agent_events_ordered(self) -> str:
        return self.name("agent-events.ordered")

    @property
    def task_events_ordered(self) -> str:
        return self.name("task-events.ordered")

    @property
    def agent_state(self) -> str:
        return self.name("projection.agent-state")

    @property
    def task_lifecycle(self) -> str:
        return self.name("projection.task-lifecycle")

    @property
    def late(self) -> str:
        return self.name("late")

    @property
    def reconcile_checkpoints(self) -> str:
        return self.name("reconcile-checkpoints")

    @property
    def generations(self) -> str:
        """Compacted: which generation of each projection is current, and replay progress."""
        return self.name("generations")

    def in_generation(self, topic: str, generation: int) -> str:
        """An output topic (projection or ordered) of a topic generation: generation 1 is
        the live topic itself, a replay into generation N >= 2 writes `<topic>.g<N>`."""
        if generation < 1:
            raise SettingsError(f"a generation is 1 or more, got {generation}")
        return topic if generation == 1 else f"{topic}.g{generation}"

    def replay_hops(self, generation: int) -> str:
        """The replay's per-entity stream into generation N (task legs, end markers)."""
        return self.name(f"replay.g{generation}.hops")


@dataclass(frozen=True, slots=True)
class IngressSettings:
    """The webhook receiver."""

    host: str = "127.0.0.1"
    port: int = 8080
    path: str = "/webhooks/wxcc"
    max_body_bytes: int = 1024 * 1024
    publish_deadline_ms: int = 2000
    # subscriptionId=secret1|secret2,otherId=secret; several secrets allow rotation
    secrets: str = ""
    verify_signatures: bool = True
    timestamp_tolerance_ms: int = 5 * 60 * 1000
    # comma-separated allow-lists; empty means "any"
    allowed_orgs: str = ""
    allowed_subscriptions: str = ""
    spool_dir: str = ""
    retry_after_s: int = 5
    # producer: lz4 (default; cheap on CPU), zstd, snappy, gzip or none; linger trades a
    # little latency for bigger batches
    compression: str = "lz4"
    linger_ms: int = 0
    # the Kafka client behind the publisher port: aiokafka, or confluent (librdkafka)
    publisher: str = "aiokafka"


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """The stream processors."""

    app_id: str = "wxcc-stream"
    grace_ms: int = 3000
    flush_timeout_ms: int = 2000
    tick_interval_ms: int = 500
    horizon_ms: int = 6 * 60 * 60 * 1000
    # what a late event does: refold (insert and recompute) or set-aside (late topic only)
    on_late: str = "refold"
    data_dir: str = "var/worker"
    web_port: int = 6066
    # auto: RocksDB (rocksdict) when it imports, else memory:// (rebuilt from the changelogs)
    store: str = "auto"
    web_host: str = "127.0.0.1"
    stall_timeout_ms: int = 30000
    session_timeout_ms: int = 10000
    producer_linger_ms: int = 5
    batch_max_events: int = 1000
    batch_window_ms: int = 50
    log_cache_entries: int = 50000
    # the topic generation the worker writes: 0 follows the generations topic (the one
    # current for both projections, read at start; a promote makes the worker exit 75 to
    # be restarted on it), N runs generation N (1: the live topics)
    generation: int = 0
    generation_check_ms: int = 5000
    # how old the client's topic metadata may get: new partitions of the raw topic are
    # noticed (and a rebalance started) within this time (Kafka's default is 5 minutes)
    metadata_max_age_ms: int = 30000


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """The query API and live wallboard."""

    host: str = "127.0.0.1"
    port: int = 8081
    # bearer tokens, read-only: `token=*` (everything) or `token=team:ID|queue:ID|...`
    # (agents of those teams, tasks of those queues), several separated by commas
    tokens: str = ""
    # IANA zone of the org: "today" (handled, abandoned, AHT, service level) starts at
    # its midnight
    org_timezone: str = "UTC"
    # service level: share of inbound contacts answered within this many ms of queueing
    service_level_ms: int = 20_000
    # an agent idle (not ready) this long is highlighted on the wallboard
    long_idle_ms: int = 15 * 60 * 1000
    # the wallboard's freshness indicator turns red when nothing new came for this long
    stale_after_ms: int = 120_000
    # projection changes kept for Last-Event-ID resume of the live stream
    change_log_size: int = 20_000
    page_limit: int = 100
    max_page_limit: int = 1000
    # comma-separated origins allowed by CORS; empty: CORS off
    cors_origins: str = ""
    sse_ping_s: float = 15.0
    # how often the generations topic is read: when another generation of a projection is
    # promoted, the API stops with exit code 75 to be started again on its topics
    generation_check_ms: int = 5000


@dataclass(frozen=True, slots=True)
class SinkSettings:
    """The PostgreSQL sink of the projection topics."""

    # libpq connection string or URI; may hold a password, so it is never printed
    dsn: str = ""
    group_id: str = "wxcc-stream-sink"
    host: str = "127.0.0.1"
    port: int = 8082
    # records per consumer batch, that is per database transaction
    batch_max_records: int = 5000
    retry_s: float = 1.0
    # how often the generations topic is read for a promoted replay generation to follow
    generation_check_s: float = 5.0


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """The local KRaft broker (or cluster) that `wxcc-stream broker` runs."""

    host: str = "127.0.0.1"
    port: int = 9092
    controller_port: int = 9093
    data_dir: str = "var/broker"
    # empty: the per-user cache ~/.cache/wxcc-stream/kafka-<version>
    jars_dir: str = ""
    heap_mb: int = 512  # per node
    start_timeout_s: int = 90
    # 1: a single broker+controller; 3: a local cluster (quorum of 3, topics with 3 replicas
    # and min.insync.replicas 2), node i on port + 2(i-1) / controller_port + 2(i-1)
    nodes: int = 1


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    """The reconciliation job's access to the WxCC APIs (wxcc-api.md)."""

    # e.g. https://api.wxcc-us1.cisco.com (the org's region)
    base_url: str = "https://api.wxcc-us1.cisco.com"
    token_url: str = "https://webexapis.com/v1/access_token"
    org_id: str = ""
    client_id: str = ""
    client_secret: str = ""
    # a Service App's refresh token; empty: ask with client credentials
    refresh_token: str = ""
    # the vendor's limit is 300 requests per minute per client id
    requests_per_minute: int = 300
    # refresh the access token this long before it expires
    token_margin_s: float = 60.0
    # retries of one request on 429 / 5xx / 401, and the longest wait between two
    attempts: int = 10
    max_backoff_s: float = 60.0
    request_timeout_s: float = 60.0
    activity_page_size: int = 1000
    # the job: the `source` its events carry (the org's webhook subscription,
    # /com/cisco/wxcc/{subscriptionId}, as the ingress allow-lists it)
    source: str = ""
    # the type the org's feed uses for state changes (v2: agent:channel_state_change)
    state_change_type: str = "agent:state_change"
    # reconcile up to now - settle (the APIs' records of the last minutes may still change)
    settle_ms: int = 1_800_000
    # a first run (no checkpoint) starts this long before now - settle
    lookback_ms: int = 86_400_000
    # one window per checkpoint, progress step and loss-rate figure
    window_ms: int = 3_600_000


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, built once at the entry point and passed down."""

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    topic: TopicSettings = field(default_factory=TopicSettings)
    ingress: IngressSettings = field(default_factory=IngressSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    sink: SinkSettings = field(default_factory=SinkSettings)
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    reconcile: ReconcileSettings = field(default_factory=ReconcileSettings)
    log_level: str = "INFO"


_S = TypeVar("_S")

_SECRET_NAMES = ("secret", "password", "token", "dsn")


def is_secret(name: str) -> bool:
    """Settings whose values must never be printed."""
    return any(word in name.lower() for word in _SECRET_NAMES)


def _convert(env_name: str, raw: Any, target: Any) -> Any:
    origin = typing.get_origin(target)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(target) if a is not type(None)]
        if raw in (None, "") and len(options) < len(typing.get_args(target)):
            return None
        target = options[0]
    if target is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{env_name}: expected true or false, got {raw!r}")
    if target is int:
        if isinstance(raw, bool):
            raise SettingsError(f"{env_name}: expected an integer, got {raw!r}")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{env_name}: expected an integer, got {raw!r}") from None
    if target is float:
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{env_name}: expected a number, got {raw!r}") from None
    return str(raw)


def _build(cls: type[_S], section: str, env: Mapping[str, str], file: Mapping[str, Any]) -> _S:
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        target = hints[f.name]
        if isinstance(target, type) and is_dataclass(target):
            sub = file.get(f.name, {})
            if not isinstance(sub, Mapping):
                raise SettingsError(f"config file: [{f.name}] must be a table")
            values[f.name] = _build(target, f.name, env, sub)
            continue
        env_name = ENV_PREFIX + (f"{section}_{f.name}" if section else f.name).upper()
        if env_name in env:
            values[f.name] = _convert(env_name, env[env_name], target)
        elif f.name in file:
            values[f.name] = _convert(env_name, file[f.name], target)
    return cls(**values)


def _check(settings: Settings) -> None:
    ports = {
        "WXCC_INGRESS_PORT": settings.ingress.port,
        "WXCC_API_PORT": settings.api.port,
        "WXCC_BROKER_PORT": settings.broker.port,
        "WXCC_BROKER_CONTROLLER_PORT": settings.broker.controller_port,
        "WXCC_WORKER_WEB_PORT": settings.worker.web_port,
        "WXCC_SINK_PORT": settings.sink.port,
    }
    for name, port in ports.items():
        if not 0 < port < 65536:
            raise SettingsError(f"{name}: {port} is not a TCP port (1-65535)")
    positive = {
        "WXCC_TOPIC_PARTITIONS": settings.topic.partitions,
        "WXCC_TOPIC_REPLICATION_FACTOR": settings.topic.replication_factor,
        "WXCC_TOPIC_MIN_INSYNC_REPLICAS": settings.topic.min_insync_replicas,
        "WXCC_INGRESS_MAX_BODY_BYTES": settings.ingress.max_body_bytes,
        "WXCC_INGRESS_PUBLISH_DEADLINE_MS": settings.ingress.publish_deadline_ms,
        "WXCC_WORKER_FLUSH_TIMEOUT_MS": settings.worker.flush_timeout_ms,
        "WXCC_WORKER_TICK_INTERVAL_MS": settings.worker.tick_interval_ms,
        "WXCC_WORKER_HORIZON_MS": settings.worker.horizon_ms,
        "WXCC_WORKER_GENERATION_CHECK_MS": settings.worker.generation_check_ms,
        "WXCC_BROKER_HEAP_MB": settings.broker.heap_mb,
        "WXCC_BROKER_NODES": settings.broker.nodes,
        "WXCC_API_SERVICE_LEVEL_MS": settings.api.service_level_ms,
        "WXCC_API_CHANGE_LOG_SIZE": settings.api.change_log_size,
        "WXCC_API_PAGE_LIMIT": settings.api.page_limit,
        "WXCC_API_MAX_PAGE_LIMIT": settings.api.max_page_limit,
        "WXCC_API_STALE_AFTER_MS": settings.api.stale_after_ms,
        "WXCC_API_LONG_IDLE_MS": settings.api.long_idle_ms,
        "WXCC_API_SSE_PING_S": settings.api.sse_ping_s,
        "WXCC_API_GENERATION_CHECK_MS": settings.api.generation_check_ms,
        "WXCC_RECONCILE_REQUESTS_PER_MINUTE": settings.reconcile.requests_per_minute,
        "WXCC_RECONCILE_ATTEMPTS": settings.reconcile.attempts,
        "WXCC_RECONCILE_REQUEST_TIMEOUT_S": settings.reconcile.request_timeout_s,
        "WXCC_RECONCILE_LOOKBACK_MS": settings.reconcile.lookback_ms,
        "WXCC_RECONCILE_WINDOW_MS": settings.reconcile.window_ms,
        "WXCC_SINK_BATCH_MAX_RECORDS": settings.sink.batch_max_records,
        "WXCC_SINK_RETRY_S": settings.sink.retry_s,
    }
    for name, value in positive.items():
        if value <= 0:
            raise SettingsError(f"{name}: must be greater than 0, got {value}")
    if settings.topic.min_insync_replicas > settings.topic.replication_factor:
        raise SettingsError(
            "WXCC_TOPIC_MIN_INSYNC_REPLICAS: must not exceed WXCC_TOPIC_REPLICATION_FACTOR "
            f"({settings.topic.replication_factor}): no acks=all write could ever succeed, "
            f"got {settings.topic.min_insync_replicas}"
        )
    if settings.worker.grace_ms < 0:
        raise SettingsError(
            f"WXCC_WORKER_GRACE_MS: must be 0 or more, got {settings.worker.grace_ms}"
        )
    if settings.worker.generation < 0:
        raise SettingsError(
            "WXCC_WORKER_GENERATION: 0 (follow the generations topic) or a generation "
            f"number, got {settings.worker.generation}"
        )
    if settings.worker.on_late not in ("refold", "set-aside"):
        raise SettingsError(
            f"WXCC_WORKER_ON_LATE: refold or set-aside, got {settings.worker.on_late!r}"
        )
    if settings.ingress.publish_deadline_ms >= 5000:
        raise SettingsError(
            "WXCC_INGRESS_PUBLISH_DEADLINE_MS: WxCC waits about 5 s for an answer; "
            f"use a deadline well under 5000, got {settings.ingress.publish_deadline_ms}"
        )
    if not settings.ingress.path.startswith("/"):
        raise SettingsError(
            f"WXCC_INGRESS_PATH: must start with '/', got {settings.ingress.path!r}"
        )
    if settings.api.page_limit > settings.api.max_page_limit:
        raise SettingsError(
            "WXCC_API_PAGE_LIMIT: must not exceed WXCC_API_MAX_PAGE_LIMIT "
            f"({settings.api.max_page_limit}), got {settings.api.page_limit}"
        )
    _check_time_zone(settings.api.org_timezone)
    if not settings.kafka.bootstrap.strip():
        raise SettingsError("WXCC_KAFKA_BOOTSTRAP: must not be empty")


def _check_time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"WXCC_API_ORG_TIMEZONE: {name!r} is not an IANA time zone (e.g. Europe/Paris)"
        ) from None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment and the optional `WXCC_CONFIG` TOML file."""
    env = os.environ if env is None else env
    file: Mapping[str, Any] = {}
    config_path = env.get(ENV_PREFIX + "CONFIG")
    if config_path:
        try:
            file = tomllib.loads(Path(config_path).read_text())
        except OSError as exc:
            raise SettingsError(f"WXCC_CONFIG: cannot read {config_path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"WXCC_CONFIG: {config_path} is not valid TOML: {exc}") from None
    settings = _build(Settings, "", env, file)
    _check(settings)
    return settings


def with_overrides(settings: _S, **changes: Any) -> _S:
    """A copy of a (sub-)settings object with some fields changed (for CLI flags)."""
    return replace(settings, **changes)  # type: ignore[type-var]

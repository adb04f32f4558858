"""The one place the Faust app is built: `build_app(settings)` wires topics, agents and web."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import faust

from wxcc_stream.base.settings import Settings
from wxcc_stream.processors.ops.web import register_web
from wxcc_stream.processors.shell.agent import register_agents
from wxcc_stream.processors.shell.context import ShellContext
from wxcc_stream.processors.shell.intake import watch_rebalances
from wxcc_stream.processors.shell.ticks import send_ticks
from wxcc_stream.processors.shell.topology import (
    Topology,
    declare_topology,
    entity_table_name,
    worker_generation,
)
from wxcc_stream.schemas.event import EntityKind

__all__ = ["app_data_dir", "app_id", "build_app", "changelog_topic", "resolve_store"]

log = logging.getLogger(__name__)

# How often the liveness check asks the broker for end offsets.
_LIVENESS_INTERVAL_S = 2.0


def _rocksdb_available() -> bool:
    """Whether a driver of Faust's RocksDB store imports: rocksdict, or python-rocksdb.

    Imported rather than merely found, as `faust.stores.rocksdb` does: a wheel whose native
    library does not load must fall back to memory here, not crash the worker's first store.
    """
    for name in ("rocksdict", "rocksdb"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        return True
    return False


def resolve_store(requested: str) -> str:
    """The table store to use: `auto` and `rocksdb://` pick RocksDB when its driver imports.

    RocksDB keeps each table partition under the worker's data dir, so a restarted worker
    reads only the changelog past the offset it had persisted. Without the driver the tables
    live in memory and are rebuilt from their changelog topics at start: slower to recover,
    just as correct.
    """
    wanted = requested.strip() or "auto"
    if wanted == "auto" or wanted.startswith("rocksdb"):
        if _rocksdb_available():
            return "rocksdb://"
        if wanted != "auto":
            log.warning(
                "WXCC_WORKER_STORE=%s but no RocksDB driver (rocksdict) is installed: "
                "using memory:// (tables rebuilt from their changelogs at start)",
                wanted,
            )
        return "memory://"
    return wanted


def app_id(settings: Settings) -> str:
    """Consumer group and changelog prefix: namespaced by the topic prefix like the topics,
    and by the generation from 2 on (its own group, offsets and tables)."""
    generation = worker_generation(settings)
    suffix = f".g{generation}" if generation > 1 else ""
    return f"{settings.topic.prefix}.{settings.worker.app_id}{suffix}"


def changelog_topic(settings: Settings, kind: EntityKind) -> str:
    """The changelog of a kind's entity table (Faust names it after the app id and table)."""
    return f"{app_id(settings)}-{entity_table_name(kind)}-changelog"


def app_data_dir(settings: Settings) -> Path:
    """This app's directory under the worker data dir (its RocksDB tables live there)."""
    # one directory per app id: tables of another topic prefix or app id (same table
    # names) must never be opened as this app's
    return Path(settings.worker.data_dir) / app_id(settings)


def build_app(settings: Settings) -> faust.App:
    """A Faust app with the processors' topics, tables, agents, timers and web views."""
    w = settings.worker
    store = resolve_store(w.store)
    data_dir = app_data_dir(settings)
    if store.startswith("rocksdb"):
        log.info("table store: RocksDB under %s (one worker per data dir)", data_dir)
    else:
        log.info("table store: %s (tables rebuilt from their changelogs at start)", store)
    app = faust.App(
        app_id(settings),
        broker=[f"kafka://{host.strip()}" for host in settings.kafka.bootstrap.split(",")],
        broker_client_id=settings.kafka.client_id,
        store=store,
        datadir=str(data_dir),
        autodiscover=False,
        topic_partitions=settings.topic.partitions,
        topic_replication_factor=settings.topic.replication_factor,
        topic_allow_declare=True,
        key_serializer="raw",
        value_serializer="raw",
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_linger=w.producer_linger_ms / 1000.0,
        producer_acks=-1,
        # bigger produce batches: fewer requests per record at a thousand records a second
        producer_max_batch_size=256 * 1024,
        # a killed worker must leave the group quickly so its partitions move on
        broker_session_timeout=w.session_timeout_ms / 1000.0,
        broker_heartbeat_interval=max(0.5, w.session_timeout_ms / 4000.0),
        broker_commit_interval=1.0,
        # new raw partitions (`wxcc-stream topics scale`) are noticed within this time
        consumer_metadata_max_age_ms=w.metadata_max_age_ms,
        producer_metadata_max_age_ms=w.metadata_max_age_ms,
        # no waiting for the streams to drain on revocation: what is committed is decided
        # by the commit guard (processors.shell.intake), not by Faust's acks, and waiting
        # would only make rebalances longer
        stream_wait_empty=False,
        table_standby_replicas=0,
        web_enabled=True,
        web_bind=w.web_host,
        web_host=w.web_host,
        web_port=w.web_port,
        worker_redirect_stdouts=False,
    )
    topology = declare_topology(app, settings)
    context = ShellContext.create(settings)
    register_agents(app, topology, context)
    _register_timers(app, topology, context)
    # Faust's own offsets can pass records no agent processed (processors.shell.intake)
    watch_rebalances(
        app,
        context.ledger,
        lambda revoked: context.observer.forget_partitions(tp.partition for tp in revoked),
    )
    register_web(app, context.health, context.metrics)
    return app


def _register_timers(app: Any, topology: Topology, context: ShellContext) -> None:
    streams = [entity.stream for entity in topology.entities.values()]
    sources = {t.get_topic_name() for t in (topology.raw, *streams)}

    async def tick() -> None:
        assignment = app.consumer.assignment()
        await send_ticks(streams, assignment, context.clock.now_ms())

    async def liveness() -> None:
        await context.health.check(app, sources, context.clock.now_ms())

    app.timer(context.settings.worker.tick_interval_ms / 1000.0, name="wxcc-ticks")(tick)
    app.timer(_LIVENESS_INTERVAL_S, name="wxcc-liveness")(liveness)

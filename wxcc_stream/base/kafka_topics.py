"""Create missing topics and wait until the broker serves them (aiokafka admin client)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import InvalidReplicationFactorError, KafkaError, TopicAlreadyExistsError

__all__ = ["TopicError", "TopicSpec", "ensure_topics"]

log = logging.getLogger(__name__)

# How long a creation waits for enough brokers: a node of a cluster that is starting, or
# fenced for a missed heartbeat under load, comes back within seconds; a cluster smaller
# than the replication factor never does, and that must be an error at start, not a hang.
_BROKERS_WAIT_S = 20.0


class TopicError(Exception):
    """A topic could not be created or did not become available."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic as we would create it, with exactly `replicas` replicas (never fewer: a
    topic created with fewer than asked would silently lose a broker's worth of safety)."""

    name: str
    partitions: int
    configs: Mapping[str, str] = field(default_factory=dict)
    replicas: int = 1


async def ensure_topics(
    bootstrap: str,
    specs: Sequence[TopicSpec],
    *,
    client_id: str = "wxcc-stream",
    timeout_s: float = 30.0,
) -> list[str]:
    """Create each missing topic, then wait until every one of `specs` has a leader for
    each partition; the names actually created. Existing topics are left as they are (a
    warning names those with fewer replicas than asked)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id)
    loop = asyncio.get_running_loop()
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await _create(admin, bootstrap, missing, loop.time() + min(timeout_s, _BROKERS_WAIT_S))
            log.info("created topics", extra={"topics": [t.name for t in missing]})
        described = await _wait_for_leaders(admin, [s.name for s in specs], timeout_s)
        _warn_under_replicated(specs, described)
        return [t.name for t in missing]
    except KafkaError as err:
        raise TopicError(f"cannot create topics on {bootstrap}: {err}") from err
    finally:
        await admin.close()


async def _create(admin: Any, bootstrap: str, specs: list[TopicSpec], deadline: float) -> None:
    """Create the topics with the replicas they ask for. The controller refuses a
    replication factor above its unfenced brokers: retried until `deadline` (a node may be
    joining or briefly fenced), then a TopicError that names the mismatch."""
    loop = asyncio.get_running_loop()
    todo = list(specs)
    while True:
        response = await admin.create_topics(
            [
                NewTopic(s.name, s.partitions, s.replicas, topic_configs=dict(s.configs))
                for s in todo
            ]
        )
        refused = set()
        for name, code, *_ in getattr(response, "topic_errors", ()):
            if code == InvalidReplicationFactorError.errno:
                refused.add(name)
            elif code not in (0, TopicAlreadyExistsError.errno):
                raise TopicError(f"cannot create topic {name}: Kafka error code {code}")
        todo = [s for s in todo if s.name in refused]
        if not todo:
            return
        if loop.time() >= deadline:
            brokers = (await admin.describe_cluster()).get("brokers") or []
            needed = max(s.replicas for s in todo)
            raise TopicError(
                f"cannot create {', '.join(s.name for s in todo)} with replication factor "
                f"{needed}: the cluster at {bootstrap} has {len(brokers)} broker(s) serving "
                f"(ids {sorted(b['node_id'] for b in brokers)}); set WXCC_TOPIC_REPLICATION_FACTOR "
                "(and WXCC_TOPIC_MIN_INSYNC_REPLICAS) to fit the cluster, or start its brokers"
            )
        await asyncio.sleep(0.5)


async def _wait_for_leaders(admin: Any, names: list[str], timeout_s: float) -> list[Any]:
    """Until every partition of the topics has a leader: a client that subscribes or sends
    before that sees the topic missing (Faust then ignores it in its partition assignment)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        described = await admin.describe_topics(names)
        if len(described) == len(names) and all(
            t.get("error_code") == 0
            and t.get("partitions")
            and all(p.get("leader", -1) >= 0 and p.get("error_code") == 0 for p in t["partitions"])
            for t in described
        ):
            return list(described)
        if loop.time() >= deadline:
            raise TopicError(f"topics not available after {timeout_s:.0f} s: {', '.join(names)}")
        await asyncio.sleep(0.1)


def _warn_under_replicated(specs: Sequence[TopicSpec], described: list[Any]) -> None:
    """An existing topic keeps its replicas: say so when the settings ask for more."""
    asked = {s.name: s.replicas for s in specs}
    for topic in described:
        name = topic.get("topic")
        replicas = min(len(p.get("replicas") or ()) for p in topic["partitions"])
        if name in asked and replicas < asked[name]:
            log.warning(
                "topic %s has %d replica(s), the settings ask for %d; existing topics are "
                "left as they are (kafka-reassign-partitions raises it)",
                name, replicas, asked[name],
            )  # fmt: skip

"""Create missing topics and wait until the broker serves them (aiokafka admin client)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

__all__ = ["TopicError", "TopicSpec", "ensure_topics"]

log = logging.getLogger(__name__)


class TopicError(Exception):
    """A topic could not be created or did not become available."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic as we would create it; `replicas` None: 3, or fewer on a smaller cluster."""

    name: str
    partitions: int
    configs: Mapping[str, str] = field(default_factory=dict)
    replicas: int | None = None


async def ensure_topics(
    bootstrap: str,
    specs: Sequence[TopicSpec],
    *,
    client_id: str = "wxcc-stream",
    timeout_s: float = 30.0,
) -> list[str]:
    """Create each missing topic, then wait until every one of `specs` has a leader for
    each partition; the names actually created. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        brokers = len((await admin.describe_cluster()).get("brokers") or ()) or 1
        missing = [
            NewTopic(
                s.name,
                s.partitions,
                min(3, brokers) if s.replicas is None else s.replicas,
                topic_configs=dict(s.configs),
            )
            for s in specs
            if s.name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *_ in getattr(response, "topic_errors", ()):
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise TopicError(f"cannot create topic {name}: Kafka error code {code}")
            log.info("created topics", extra={"topics": [t.name for t in missing]})
        await _wait_for_leaders(admin, [s.name for s in specs], timeout_s)
        return [t.name for t in missing]
    except KafkaError as err:
        raise TopicError(f"cannot create topics on {bootstrap}: {err}") from err
    finally:
        await admin.close()


async def _wait_for_leaders(admin: Any, names: list[str], timeout_s: float) -> None:
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
            return
        if loop.time() >= deadline:
            raise TopicError(f"topics not available after {timeout_s:.0f} s: {', '.join(names)}")
        await asyncio.sleep(0.1)

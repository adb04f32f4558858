"""Create the raw and dead-letter topics at start when they do not exist yet."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from ingress.errors import PublishError

log = logging.getLogger(__name__)


async def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, Mapping[str, str]],
    *,
    partitions: int,
    client_id: str = "wxcc-stream-ingress",
) -> list[str]:
    """Create each missing topic (name -> topic configs); the names actually created.

    Replication factor: 3, or the number of brokers when the cluster is smaller, so the
    same code fits the one-node development broker and a production cluster.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        brokers = len((await admin.describe_cluster()).get("brokers") or ()) or 1
        missing = [
            NewTopic(name, partitions, min(3, brokers), topic_configs=dict(cfg))
            for name, cfg in topics.items()
            if name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *_ in getattr(response, "topic_errors", ()):
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise PublishError(f"cannot create topic {name}: Kafka error code {code}")
            log.info("created topics", extra={"topics": [t.name for t in missing]})
            await _wait_for_leaders(admin, [t.name for t in missing])
        return [t.name for t in missing]
    except KafkaError as err:
        raise PublishError(f"cannot create topics on {bootstrap}: {err}") from err
    finally:
        await admin.close()


async def _wait_for_leaders(admin: Any, names: list[str], timeout_s: float = 10.0) -> None:
    """Until every partition of the new topics has a leader (the first sends then succeed
    at once instead of retrying on NotLeaderForPartition)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        described = await admin.describe_topics(names)
        if len(described) == len(names) and all(
            t.get("error_code") == 0
            and t.get("partitions")
            and all(p.get("leader", -1) >= 0 and p.get("error_code") == 0 for p in t["partitions"])
            for t in described
        ):
            return
        await asyncio.sleep(0.1)
    log.warning("topics created but leaders not known yet", extra={"topics": names})

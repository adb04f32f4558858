"""docs/consumers.md's Python consumer and kcat recipes, run against the real broker."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.kafka_helpers import create_topics
from tests.unit.consumer_docs import block
from tests.unit.sink_documents import agent_doc, as_bytes, task_doc
from wxcc_stream.base.settings import Settings

pytestmark = pytest.mark.broker


async def _publish(settings: Settings) -> dict[str, dict[str, Any]]:
    """Two agents (one with an older revision after its newest) and one task; the
    documents a consumer must end with, per key."""
    agents, tasks = settings.topic.agent_state, settings.topic.task_lifecycle
    await create_topics(settings.kafka.bootstrap, [agents, tasks], partitions=2, compacted=True)
    newest = agent_doc("a1", 4, state="available")
    other = agent_doc("a2", 1)
    task = task_doc("t1", 2, status="connected")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap, acks="all")
    await producer.start()
    try:
        for topic, key, doc in (
            (agents, "a1", agent_doc("a1", 2)),
            (agents, "a1", newest),
            (agents, "a1", agent_doc("a1", 3)),  # a redo after a worker restart
            (agents, "a2", other),
            (tasks, "t1", task),
        ):
            await producer.send_and_wait(topic, as_bytes(doc), key=key.encode())
    finally:
        await producer.stop()
    return {"a1": newest, "a2": other, "t1": task}


async def test_the_python_consumer_example_keeps_the_highest_revision(settings: Settings) -> None:
    want = await _publish(settings)
    namespace: dict[str, Any] = {}
    exec(compile(block("### A complete Python consumer (aiokafka)", "python"), "doc", "exec"),
         namespace)  # fmt: skip
    latest: dict[str, dict[str, Any]] = {}
    stop = asyncio.Event()
    reading = asyncio.create_task(
        namespace["follow"](settings.kafka.bootstrap, settings.topic.agent_state, latest, stop)
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    # the example fills a plain dict, as a user's code would: poll it
    while latest != {"a1": want["a1"], "a2": want["a2"]} and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    stop.set()
    await reading
    assert latest == {"a1": want["a1"], "a2": want["a2"]}


def _recipes(settings: Settings) -> list[list[str]]:
    lines = block("### kcat recipes", "sh").splitlines()
    commands = []
    for line in lines:
        text = line.split("  #", 1)[0].strip()
        text = text.replace("127.0.0.1:9092", settings.kafka.bootstrap)
        text = text.replace("wxcc.projection.", f"{settings.topic.prefix}.projection.")
        commands.append(shlex.split(text))
    return commands


async def test_every_kcat_recipe_runs_and_shows_the_documents(settings: Settings) -> None:
    want = await _publish(settings)
    recipes = _recipes(settings)
    assert len(recipes) >= 4
    for argv in recipes:
        assert argv[0] == "kcat"
        done = await asyncio.to_thread(
            subprocess.run, argv, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, (argv, done.stderr)
        out = done.stdout
        if "-L" in argv:
            assert settings.topic.agent_state in out
        elif "-J" in argv:
            envelopes = [orjson.loads(line) for line in out.splitlines()]
            assert [orjson.loads(e["payload"]) for e in envelopes] == [want["t1"]]
        elif "%k\\t%s\\n" in argv or any("%k\t" in a for a in argv):
            keys = {line.split("\t", 1)[0] for line in out.splitlines()}
            assert keys == {"a1", "a2"}
        elif "-o" in argv and argv[argv.index("-o") + 1] == "-1":
            assert out.split()[-1] == "t1"
        else:
            docs = [orjson.loads(line) for line in out.splitlines()]
            assert max(d["revision"] for d in docs if d["agentId"] == "a1") == 4

"""Ingress against the real broker over real HTTP: what is accepted lands in Kafka byte for
byte with the right key and headers; what is refused lands in the dead-letter topic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from tests.integration.test_ingress_support import (
    EXAMPLE_SECRETS,
    ORG,
    ROTATED,
    SUB,
    Running,
    ingress_settings,
    new_event,
    signed_headers,
    start_ingress,
)
from tests.kafka_helpers import read_all
from wxcc_stream.base.settings import Settings
from wxcc_stream.ingress.admission import subscription_of
from wxcc_stream.ingress.confluent_publisher import ConfluentRawPublisher
from wxcc_stream.ingress.memory import MemoryPublisher
from wxcc_stream.ingress.publisher import KafkaConfig, KafkaRawPublisher, RawPublisher
from wxcc_stream.ingress.records import OutRecord
from wxcc_stream.schemas.cloudevent import parse_event_bytes
from wxcc_stream.schemas.files import vendor_examples
from wxcc_stream.schemas.raw_record import rfc3339_ms
from wxcc_stream.schemas.signing import sign

pytestmark = pytest.mark.broker

Starter = Callable[..., Awaitable[Running]]


@pytest.fixture
async def ingress(settings: Settings) -> AsyncIterator[Starter]:
    """Start ingress apps on the session broker (this test's topics); stopped at teardown."""
    started: list[Running] = []

    async def start(**overrides: Any) -> Running:
        running = await start_ingress(ingress_settings(settings, **overrides))
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop()


def headers_of(record: Any) -> dict[str, bytes]:
    return {name: value for name, value in record.headers}


async def test_every_vendor_example_lands_in_kafka_byte_for_byte(
    ingress: Starter, settings: Settings, kafka_bootstrap: str
) -> None:
    running = await ingress()
    examples = vendor_examples()
    async with aiohttp.ClientSession() as http:
        for body in examples.values():
            secret = EXAMPLE_SECRETS[subscription_of(orjson.loads(body)["source"])]
            async with http.post(running.url, data=body, headers=signed_headers(body, secret)) as r:
                assert r.status == 202, await r.text()
                assert await r.json() == {"accepted": 1}
    records = await read_all(kafka_bootstrap, settings.topic.raw, expected=len(examples))
    assert sorted(r.value for r in records) == sorted(examples.values())
    for record in records:
        h = headers_of(record)
        event = parse_event_bytes(record.value, received_at=int(h["received_at"]))
        assert record.key == event.entity_id.encode()
        assert h["ce_id"] == event.ce_id.encode()
        assert h["ce_type"] == event.type.encode()
        assert h["ce_source"] == event.ce_source.encode()
        assert h["ce_specversion"] == b"1.0"
        assert h["ce_time"] == (rfc3339_ms(event.created_time) or "").encode()
        assert int(h["received_at"]) > 1_600_000_000_000
        assert not any("signature" in name.lower() for name in h)


async def test_cloudevents_sdk_structured_and_binary_clients(
    ingress: Starter, settings: Settings, kafka_bootstrap: str
) -> None:
    running = await ingress()
    sent: dict[str, str] = {}
    async with aiohttp.ClientSession() as http:
        for mode, encode in (("structured", to_structured_event), ("binary", to_binary_event)):
            event = CloudEvent(
                attributes={
                    "id": f"sdk-{mode}",
                    "type": "task:connected",
                    "source": f"/com/cisco/wxcc/{SUB}",
                    "comciscoorgid": ORG,
                    "datacontenttype": "application/json",
                },
                data={"taskId": f"task-{mode}", "createdTime": 1_709_539_200_000},
            )
            message = encode(event)
            headers = {**message.headers, "X-WebexCC-Signature": sign(message.body, ROTATED)}
            async with http.post(running.url, data=message.body, headers=headers) as r:
                assert r.status == 202, await r.text()
            sent[f"sdk-{mode}"] = event.get_time().isoformat()  # type: ignore[union-attr]
    records = await read_all(kafka_bootstrap, settings.topic.raw, expected=2)
    by_id = {headers_of(r)["ce_id"].decode(): r for r in records}
    assert set(by_id) == set(sent)
    for ce_id, record in by_id.items():
        stored = orjson.loads(record.value)
        mode = ce_id.removeprefix("sdk-")
        assert record.key == f"task-{mode}".encode()
        assert stored["data"] == {"taskId": f"task-{mode}", "createdTime": 1_709_539_200_000}
        assert stored["comciscoorgid"] == ORG
        # the SDK sets `time`; it becomes ce_time
        assert headers_of(record)["ce_time"].decode()[:19] == sent[ce_id][:19]


async def test_batch_mode_stores_each_event_with_its_own_bytes(
    ingress: Starter, settings: Settings, kafka_bootstrap: str
) -> None:
    running = await ingress()
    events = [orjson.dumps(new_event(kind)) for kind in ("agent:login", "task:new", "task:ended")]
    body = b"[\n  " + b",\n  ".join(events) + b"\n]"
    headers = signed_headers(body, Content_Type="application/cloudevents-batch+json")
    headers["Content-Type"] = "application/cloudevents-batch+json"
    async with (
        aiohttp.ClientSession() as http,
        http.post(running.url, data=body, headers=headers) as r,
    ):
        assert r.status == 202, await r.text()
        assert await r.json() == {"accepted": 3}
    records = await read_all(kafka_bootstrap, settings.topic.raw, expected=3)
    assert sorted(r.value for r in records) == sorted(events)


def _doc(**top: Any) -> dict[str, Any]:
    return new_event("agent:login", **top)


def _case(name: str, body: bytes, headers: dict[str, str], status: int, reason: str) -> Any:
    return pytest.param(body, headers, status, reason, id=name)


NOW_MS = 0  # replaced per test run: v2 cases are built at call time


def refusal_cases(now_ms: int) -> list[tuple[str, bytes, dict[str, str], int, str | None]]:
    """(name, body, headers, expected status, dead-letter reason or None for accepted)."""
    ok = orjson.dumps(_doc())
    old = now_ms - 6 * 60 * 1000
    v2_old = orjson.dumps(_doc(comciscotimestamp=old))
    v2_now = orjson.dumps(_doc(comciscotimestamp=str(now_ms)))
    unknown_org = orjson.dumps(_doc(comciscoorgid="someone-else"))
    unknown_org_alt = _doc(comciscoorgid=None)
    unknown_org_alt["comciscocorgid"] = "someone-else"
    del unknown_org_alt["comciscoorgid"]
    alt = orjson.dumps(unknown_org_alt)
    other_sub = orjson.dumps(_doc(source="/com/cisco/wxcc/not-ours"))
    wrong_types = orjson.dumps(_doc(data={"agentId": 42, "createdTime": "yesterday"}))
    extra = _doc(futureAttribute={"a": 1})
    extra["data"]["fieldFromTheFuture"] = [1, "two"]
    unknown_fields = orjson.dumps(extra)
    rotated = orjson.dumps(_doc())
    truncated = ok[: len(ok) // 2]
    reconciled = orjson.dumps(_doc(wxccstreamreconciled=True))
    return [
        ("accepted", ok, signed_headers(ok), 202, None),
        ("rotated-secret", rotated, signed_headers(rotated, ROTATED), 202, None),
        ("unknown-fields-kept", unknown_fields, signed_headers(unknown_fields), 202, None),
        (
            "v2-ok",
            v2_now,
            signed_headers(v2_now, **{"X-WebExCC-Timestamp": str(now_ms)}),
            202,
            None,
        ),
        ("missing-signature", ok + b" ", signed_headers(ok + b" ", None), 403, "missing_signature"),
        ("bad-signature", ok + b"  ", signed_headers(ok, ROTATED + "x"), 403, "bad_signature"),
        (
            "v2-mismatch",
            v2_now + b" ",
            signed_headers(v2_now + b" ", **{"X-WebExCC-Timestamp": str(now_ms + 1)}),
            403,
            "timestamp_mismatch",
        ),
        (
            "v2-too-old",
            v2_old,
            signed_headers(v2_old, **{"X-WebExCC-Timestamp": str(old)}),
            403,
            "timestamp_out_of_range",
        ),
        ("unknown-org", unknown_org, signed_headers(unknown_org), 403, "unknown_org"),
        ("unknown-org-alt-spelling", alt, signed_headers(alt), 403, "unknown_org"),
        ("unknown-subscription", other_sub, signed_headers(other_sub), 403, "unknown_subscription"),
        ("truncated-json", truncated, signed_headers(truncated), 400, "invalid_json"),
        ("wrong-types", wrong_types, signed_headers(wrong_types), 400, "invalid_event"),
        # only our reconciliation job marks corrective events, never a webhook sender
        ("reconciled-marker", reconciled, signed_headers(reconciled), 400, "invalid_event"),
        ("garbage", b"\x00\xffgarbage", signed_headers(b"\x00\xffgarbage"), 400, "invalid_json"),
        (
            "not-json-media-type",
            b"hello",
            {**signed_headers(b"hello"), "Content-Type": "text/plain"},
            415,
            "unsupported_media_type",
        ),
    ]


async def test_refusals_are_4xx_with_a_problem_and_dead_lettered_with_their_reason(
    ingress: Starter, settings: Settings, kafka_bootstrap: str
) -> None:
    import time

    running = await ingress(allowed_orgs=ORG, max_body_bytes=4096)
    cases = refusal_cases(time.time_ns() // 1_000_000)
    async with aiohttp.ClientSession() as http:
        for name, body, headers, status, reason in cases:
            async with http.post(running.url, data=body, headers=headers) as r:
                text = await r.text()
                assert r.status == status, (name, text)
                if reason is not None:
                    assert r.content_type == "application/problem+json"
                    problem = orjson.loads(text)
                    assert (problem["status"], problem["reason"]) == (status, reason), name
                    if name == "reconciled-marker":
                        assert problem["field"] == "wxccstreamreconciled"
        # oversize: refused from Content-Length, and from a chunked body without one
        big = orjson.dumps(_doc(data={"agentId": "a", "pad": "x" * 5000}))
        async with http.post(running.url, data=big, headers=signed_headers(big)) as r:
            assert r.status == 413
            assert orjson.loads(await r.read())["reason"] == "body_too_large"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(100):
                yield b"x" * 1024

        async with http.post(running.url, data=chunks(), headers=signed_headers(b"")) as r:
            assert r.status == 413
    accepted = [c for c in cases if c[4] is None]
    refused = [c for c in cases if c[4] is not None]
    raw = await read_all(kafka_bootstrap, settings.topic.raw, expected=len(accepted))
    assert sorted(r.value for r in raw) == sorted(c[1] for c in accepted)
    dead = await read_all(kafka_bootstrap, settings.topic.deadletter, expected=len(refused) + 2)
    assert len(dead) == len(refused) + 2
    by_body = {r.value: headers_of(r) for r in dead}
    for name, body, headers, status, reason in refused:
        h = by_body[body]
        assert h["dl_reason"] == reason.encode(), name  # type: ignore[union-attr]
        assert h["dl_status"] == str(status).encode(), name
        assert h["http_content-type"] == headers["Content-Type"].encode(), name
        if name == "reconciled-marker":
            assert h["dl_field"] == b"wxccstreamreconciled"
    for record in dead:
        h = headers_of(record)
        assert record.key is None
        assert not any("signature" in name for name in h)
        signatures = [v.encode() for _, _, hs, _, _ in cases for k, v in hs.items() if "Sig" in k]
        assert not any(sig in value for sig in signatures for value in h.values())
    too_large = [r for r in dead if headers_of(r)["dl_reason"] == b"body_too_large"]
    assert len(too_large) == 2
    assert all(r.value == b"" for r in too_large)


async def test_health_readiness_and_metrics(ingress: Starter) -> None:
    running = await ingress()
    ok = orjson.dumps(_doc())
    async with aiohttp.ClientSession() as http:
        async with http.get(running.base + "/healthz") as r:
            assert r.status == 200
        async with http.get(running.base + "/readyz") as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["kafka"] is True
        async with http.post(running.url, data=ok, headers=signed_headers(ok)) as r:
            assert r.status == 202
        async with http.post(running.url, data=b"{", headers=signed_headers(b"{")) as r:
            assert r.status == 400
        async with http.get(running.base + "/metrics") as r:
            text = await r.text()
    assert 'wxcc_ingress_requests_total{status="202",type="agent:login"} 1.0' in text
    assert 'wxcc_ingress_requests_total{status="400",type="unknown"} 1.0' in text
    assert 'wxcc_ingress_deadlettered_total{reason="invalid_json"} 1.0' in text
    assert "wxcc_ingress_publish_seconds_count 1.0" in text
    assert "wxcc_ingress_spool_depth 0.0" in text


# --- the RawPublisher contract, run against every implementation -------------------------


@pytest.fixture(params=["memory", "kafka", "confluent"])
async def publisher(
    request: pytest.FixtureRequest, settings: Settings
) -> AsyncIterator[tuple[RawPublisher, Callable[[str, int], Awaitable[list[OutRecord]]]]]:
    if request.param == "memory":
        memory = MemoryPublisher()

        async def read_memory(topic: str, expected: int) -> list[OutRecord]:
            return memory.on(topic)

        yield memory, read_memory
        return
    kafka = (
        ConfluentRawPublisher(KafkaConfig.from_settings(settings))
        if request.param == "confluent"
        else KafkaRawPublisher(KafkaConfig.from_settings(settings))
    )
    bootstrap = settings.kafka.bootstrap

    async def read_kafka(topic: str, expected: int) -> list[OutRecord]:
        records = await read_all(bootstrap, topic, expected=expected)
        return [OutRecord(r.topic, r.key, r.value, tuple(r.headers)) for r in records]

    yield kafka, read_kafka


async def test_publisher_contract(
    publisher: tuple[RawPublisher, Callable[[str, int], Awaitable[list[OutRecord]]]],
    settings: Settings,
) -> None:
    store, read = publisher
    await store.start()
    try:
        assert await store.ready()
        topic = settings.topic.raw
        batch = [OutRecord(topic, b"same-key", b"v%d" % i, (("h", b"%d" % i),)) for i in range(5)]
        await store.publish(batch)
        await asyncio.gather(*(store.publish([OutRecord(topic, None, b"solo")]) for _ in range(3)))
    finally:
        await store.stop()
    stored = await read(settings.topic.raw, 8)
    same_key = [r for r in stored if r.key == b"same-key"]
    # one key, one partition: order kept
    assert [(r.value, r.headers) for r in same_key] == [(r.value, r.headers) for r in batch]
    assert [r.value for r in stored if r.key is None] == [b"solo"] * 3


async def test_concurrent_publishes_keep_per_key_order_in_kafka(settings: Settings) -> None:
    store = KafkaRawPublisher(KafkaConfig.from_settings(settings))
    await store.start()
    topic = settings.topic.raw

    async def one(i: int) -> None:
        await store.publish([OutRecord(topic, b"key-%d" % (i % 5), b"%d" % i)])

    try:
        # sequential per key, many keys at once: batches form while others are in flight
        for start in range(0, 300, 30):
            await asyncio.gather(*(one(i) for i in range(start, start + 30)))
    finally:
        await store.stop()
    records = await read_all(settings.kafka.bootstrap, topic, expected=300)
    for k in range(5):
        values = [int(r.value) for r in records if r.key == b"key-%d" % k]
        assert values == sorted(values)
        assert len(values) == 60


async def test_partitions_added_to_the_topic_are_used_after_a_metadata_update(
    settings: Settings,
) -> None:
    # The publisher keeps each topic's partitions between metadata updates: a change of the
    # partition count must reach it, or keys would keep landing by the old count.
    from aiokafka.admin import AIOKafkaAdminClient, NewPartitions
    from aiokafka.partitioner import murmur2

    store = KafkaRawPublisher(KafkaConfig.from_settings(settings))
    await store.start()
    topic = settings.topic.raw
    keys = [b"entity-%d" % i for i in range(40)]
    before = settings.topic.partitions
    try:
        await store.publish([OutRecord(topic, keys[0], b"warm-up")])
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
        await admin.start()
        try:
            await admin.create_partitions({topic: NewPartitions(before * 2)})
        finally:
            await admin.close()
        producer = store._producer  # no public way to refresh the metadata right now
        assert producer is not None
        for _ in range(100):  # until the broker's metadata lists the new partitions
            await producer.client.force_metadata_update()
            if len(producer.client.cluster.partitions_for_topic(topic) or ()) == before * 2:
                break
            await asyncio.sleep(0.1)
        await store.publish([OutRecord(topic, key, b"after") for key in keys])
    finally:
        await store.stop()
    records = await read_all(settings.kafka.bootstrap, topic, expected=len(keys) + 1)
    after = [r for r in records if r.value == b"after"]
    assert len(after) == len(keys)
    for record in after:
        assert record.key is not None
        assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % (before * 2)
    assert any(r.partition >= before for r in after)

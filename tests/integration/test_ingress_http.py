"""Ingress over real HTTP with an in-memory publisher: fuzzing, deadlines, readiness."""

from __future__ import annotations

import asyncio
import http.client
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingress.admission import subscription_of
from ingress.memory import MemoryPublisher
from ingress.policy import parse_secrets
from ingress.signature import SignatureCheck, sign, verify
from schemas.cloudevent import parse_event_bytes
from schemas.files import vendor_examples
from tests.integration.test_ingress_support import (
    EXAMPLE_SECRETS,
    SECRETS_SETTING,
    SUB,
    Running,
    ingress_settings,
    new_event,
    signed_headers,
    start_ingress,
)
from wxcc_stream.settings import Settings, load_settings

BASE = load_settings({})


class ThreadedIngress:
    """An ingress app on its own event loop in a thread, for synchronous (hypothesis) tests."""

    def __init__(self, settings: Settings) -> None:
        self.publisher = MemoryPublisher()
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.running: Running | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedIngress:
        self.thread.start()
        start = start_ingress(self.settings, publisher=self.publisher)
        self.running = asyncio.run_coroutine_threadsafe(start, self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.running is not None
        asyncio.run_coroutine_threadsafe(self.running.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        assert self.running is not None
        port = int(self.running.base.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("POST", self.settings.ingress.path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def threaded() -> Iterator[ThreadedIngress]:
    with ThreadedIngress(ingress_settings(BASE, max_body_bytes=2048)) as server:
        yield server


EXAMPLES = sorted(vendor_examples().values())
SECRETS = parse_secrets(SECRETS_SETTING)
header_names = st.sampled_from(
    [
        "Content-Type",
        "X-WebExCC-Timestamp",
        "ce-specversion",
        "ce-id",
        "ce-type",
        "ce-source",
        "ce-comciscoorgid",
        "Accept",
        "X-Anything",
    ]
)
header_values = st.sampled_from(
    [
        "application/json",
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
        "text/plain",
        "1.0",
        "agent:login",
        "task:new",
        f"/com/cisco/wxcc/{SUB}",
        "%FF%00",
        "",
    ]
) | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


def _mutate(doc: Any, path: list[str], value: Any) -> Any:
    if not path or not isinstance(doc, dict):
        return value
    return {**doc, path[0]: _mutate(doc.get(path[0], {}), path[1:], value)}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(EXAMPLES),
    st.sampled_from(EXAMPLES).map(lambda b: b[: len(b) // 2]),
    st.builds(
        lambda base, path, value: orjson.dumps(_mutate(orjson.loads(base), path, value)),
        st.sampled_from(EXAMPLES),
        st.lists(
            st.sampled_from(
                ["id", "type", "source", "specversion", "data", "agentId", "taskId", "createdTime"]
            ),
            min_size=1,
            max_size=2,
        ),
        json_values,
    ),
    st.lists(st.sampled_from(EXAMPLES), max_size=3).map(lambda xs: b"[" + b",".join(xs) + b"]"),
    json_values.map(orjson.dumps),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=bodies,
    extra=st.lists(st.tuples(header_names, header_values), max_size=4),
    signer=st.sampled_from(["right", "none", "wrong"]),
)
def test_fuzz_never_5xx_never_2xx_for_an_invalid_event_and_every_refusal_recorded(
    threaded: ThreadedIngress, body: bytes, extra: list[tuple[str, str]], signer: str
) -> None:
    headers = dict(extra)
    sub = None
    if signer == "right":
        # sign with the secret of whichever subscription the body names, if any
        for secret_sub, secret in EXAMPLE_SECRETS.items():
            if f"/com/cisco/wxcc/{secret_sub}".encode() in body:
                sub = secret_sub
                headers["X-WebexCC-Signature"] = sign(body, secret)
    elif signer == "wrong":
        headers["X-WebexCC-Signature"] = sign(body, "not-the-secret")
    before = len(threaded.publisher.records)
    status, answer = threaded.post(body, headers)
    added = threaded.publisher.records[before:]
    assert status < 500, answer
    raw_topic, dl_topic = threaded.settings.topic.raw, threaded.settings.topic.deadletter
    if 200 <= status < 300:
        stored = [r for r in added if r.topic == raw_topic]
        assert len(stored) == orjson.loads(answer)["accepted"] >= 1
        for record in stored:
            event = parse_event_bytes(record.value, received_at=1)
            secrets = SECRETS[subscription_of(event.ce_source)]
            signature = headers.get("X-WebexCC-Signature")
            assert verify(body, signature, secrets) is SignatureCheck.VALID
        assert sub is not None
    else:
        problem = orjson.loads(answer)
        assert problem["status"] == status
        (dead,) = [r for r in added if r.topic == dl_topic]
        assert dict(dead.headers)["dl_reason"] == problem["reason"].encode()
        assert dead.value == (b"" if status == 413 else body)
        assert not [r for r in added if r.topic == raw_topic]


# --- deadlines, failures, readiness ------------------------------------------------------


@pytest.fixture
async def memory_ingress() -> AsyncIterator[tuple[Running, MemoryPublisher]]:
    publisher = MemoryPublisher()
    running = await start_ingress(
        ingress_settings(BASE, publish_deadline_ms=300, retry_after_s=7), publisher=publisher
    )
    yield running, publisher
    await running.stop()


async def post(url: str, doc: dict[str, Any] | bytes) -> tuple[int, dict[str, str], Any]:
    body = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=signed_headers(body)) as r,
    ):
        return r.status, dict(r.headers), orjson.loads(await r.read())


async def test_unavailable_or_slow_kafka_answers_503_with_retry_after_in_time(
    memory_ingress: tuple[Running, MemoryPublisher],
) -> None:
    running, publisher = memory_ingress
    publisher.failing = True
    status, headers, problem = await post(running.url, new_event())
    assert (status, headers["Retry-After"], problem["reason"]) == (503, "7", "unavailable")
    publisher.failing = False
    publisher.delay_s = 5.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, headers, problem = await post(running.url, new_event())
    assert status == 503
    assert loop.time() - started < 2.0  # the 300 ms deadline, not the 5 s publisher
    publisher.delay_s = 0
    status, _, _ = await post(running.url, new_event())
    assert status == 202


async def test_a_refusal_that_cannot_be_dead_lettered_is_503_not_silently_dropped(
    memory_ingress: tuple[Running, MemoryPublisher],
) -> None:
    running, publisher = memory_ingress
    publisher.failing = True
    status, headers, problem = await post(running.url, b"{not json")
    assert status == 503
    assert "Retry-After" in headers
    publisher.failing = False
    status, _, problem = await post(running.url, b"{not json")
    assert (status, problem["reason"]) == (400, "invalid_json")
    assert len(publisher.on(BASE.topic.deadletter)) == 1


async def test_readiness_follows_the_publisher(
    memory_ingress: tuple[Running, MemoryPublisher],
) -> None:
    running, publisher = memory_ingress
    async with aiohttp.ClientSession() as http:
        async with http.get(running.base + "/readyz") as r:
            assert r.status == 200
        publisher.failing = True
        async with http.get(running.base + "/readyz") as r:
            assert r.status == 503
            assert (await r.json())["kafka"] is False
        async with http.get(running.base + "/healthz") as r:
            assert r.status == 200


async def test_verification_off_is_explicit_and_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    publisher = MemoryPublisher()
    with caplog.at_level(logging.WARNING, logger="ingress"):
        running = await start_ingress(
            ingress_settings(BASE, verify_signatures=False), publisher=publisher
        )
    try:
        assert any("verification is OFF" in r.getMessage() for r in caplog.records)
        body = orjson.dumps(new_event())
        async with (
            aiohttp.ClientSession() as http,
            http.post(running.url, data=body, headers={"Content-Type": "application/json"}) as r,
        ):
            assert r.status == 202
    finally:
        await running.stop()


async def test_shutdown_waits_for_in_flight_deliveries_then_stops_the_publisher() -> None:
    publisher = MemoryPublisher()
    publisher.delay_s = 0.3
    running = await start_ingress(
        ingress_settings(BASE, publish_deadline_ms=2000), publisher=publisher
    )
    docs = [new_event() for _ in range(10)]
    tasks = [asyncio.create_task(post(running.url, d)) for d in docs]
    await asyncio.sleep(0.1)  # all ten are in flight
    await running.stop()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    statuses = [r[0] for r in results if isinstance(r, tuple)]
    assert statuses == [202] * 10
    assert publisher.stopped
    stored = {orjson.loads(r.value)["id"] for r in publisher.on(BASE.topic.raw)}
    assert stored == {d["id"] for d in docs}

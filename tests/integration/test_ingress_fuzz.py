"""Fuzzing the ingress over real HTTP with the real Kafka publisher on the session broker.

Hypothesis throws arbitrary bodies and headers at one running ingress; every answer must
be below 500 and no invalid event may be answered 2xx. Each delivery and its answer is
recorded, and after the run the raw and dead-letter topics are read back: whatever was
answered 2xx is on the raw topic, every refusal is on the dead-letter topic with its
reason, and nothing else is on either.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.integration.test_ingress_support import (
    EXAMPLE_SECRETS,
    SECRETS_SETTING,
    SUB,
    Running,
    ingress_settings,
    start_ingress,
    topic_size,
)
from tests.kafka_helpers import read_all
from wxcc_stream.base.settings import Settings
from wxcc_stream.ingress.admission import subscription_of
from wxcc_stream.schemas.cloudevent import parse_event, parse_event_bytes
from wxcc_stream.schemas.files import vendor_examples
from wxcc_stream.schemas.signing import SignatureCheck, parse_secrets, sign, verify

pytestmark = pytest.mark.broker

# Kafka on a loaded 2-core machine can take a while to acknowledge (acks=all); the deadline
# is generous so that a slow ack is not mistaken for the 5xx this test hunts for.
PUBLISH_DEADLINE_MS = 4000
STARTUP_TIMEOUT_S = 60


class ThreadedIngress:
    """An ingress app (real Kafka publisher) on its own event loop in a thread, for
    synchronous (hypothesis) tests."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.running: Running | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedIngress:
        self.thread.start()
        start = start_ingress(self.settings)  # no publisher given: the Kafka one
        self.running = asyncio.run_coroutine_threadsafe(start, self.loop).result(STARTUP_TIMEOUT_S)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.running is not None:
            stop = self.running.stop()
            asyncio.run_coroutine_threadsafe(stop, self.loop).result(STARTUP_TIMEOUT_S)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        assert self.running is not None
        port = int(self.running.base.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", self.settings.ingress.path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


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


def stored_documents(body: bytes, headers: Mapping[str, str]) -> tuple[str, list[Any]]:
    """The HTTP mode of a delivery and the events (as JSON documents) it carries, by the
    CloudEvents HTTP binding: a batch is an array of structured events; binary mode has
    the attributes in `ce-*` headers and `data` in the body; else the body is the event."""
    lower = {name.lower(): value for name, value in headers.items()}
    content_type = lower.get("content-type", "")
    media = content_type.partition(";")[0].strip().lower()
    doc = orjson.loads(body)
    if media == "application/cloudevents-batch+json":
        return "batch", list(doc)
    if "ce-specversion" in lower and media != "application/cloudevents+json":
        attributes: dict[str, Any] = {
            name[3:]: unquote(value)
            for name, value in lower.items()
            if name.startswith("ce-") and len(name) > 3
        }
        if content_type:
            attributes["datacontenttype"] = content_type
        return "binary", [{**attributes, "data": doc}]
    return "structured", [doc]


def canonical(doc: Any) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


@dataclass
class Ledger:
    """Every delivery of the run, with what it was answered."""

    accepted: list[tuple[bytes, str, list[Any]]] = field(default_factory=list)  # body, mode, docs
    refused: list[tuple[bytes, int, str]] = field(default_factory=list)  # body, status, reason


def check_one(
    server: ThreadedIngress, ledger: Ledger, body: bytes, extra: list[tuple[str, str]], signer: str
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
    status, answer = server.post(body, headers)
    assert status < 500, answer
    if 200 <= status < 300:
        mode, docs = stored_documents(body, headers)
        assert len(docs) == orjson.loads(answer)["accepted"] >= 1
        signature = headers.get("X-WebexCC-Signature")
        for doc in docs:
            event = parse_event(doc, received_at=1)
            secrets = SECRETS[subscription_of(event.ce_source)]
            assert verify(body, signature, secrets) is SignatureCheck.VALID
        assert sub is not None
        ledger.accepted.append((body, mode, docs))
    else:
        problem = orjson.loads(answer)
        assert problem["status"] == status
        ledger.refused.append((body, status, problem["reason"]))


async def read_topic(bootstrap: str, topic: str, expected: int) -> list[Any]:
    """Every record of the topic, which must hold exactly `expected`."""
    records = await read_all(bootstrap, topic, expected=expected) if expected else []
    assert await topic_size(bootstrap, topic) == expected, topic
    assert len(records) == expected, topic
    return records


def test_fuzz_never_5xx_never_2xx_for_an_invalid_event_and_every_refusal_recorded(
    settings: Settings, kafka_bootstrap: str
) -> None:
    config = ingress_settings(
        settings, max_body_bytes=2048, publish_deadline_ms=PUBLISH_DEADLINE_MS
    )
    ledger = Ledger()
    with ThreadedIngress(config) as server:

        @hypothesis_settings(
            max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
        )
        @given(
            body=bodies,
            extra=st.lists(st.tuples(header_names, header_values), max_size=4),
            signer=st.sampled_from(["right", "none", "wrong"]),
        )
        def deliver(body: bytes, extra: list[tuple[str, str]], signer: str) -> None:
            check_one(server, ledger, body, extra, signer)

        deliver()

    raw_topic, dl_topic = config.topic.raw, config.topic.deadletter
    expected_docs = [doc for _, _, docs in ledger.accepted for doc in docs]
    raw = asyncio.run(read_topic(kafka_bootstrap, raw_topic, len(expected_docs)))
    dead = asyncio.run(read_topic(kafka_bootstrap, dl_topic, len(ledger.refused)))

    # every 2xx'd event is on the raw topic, and nothing else is
    assert Counter(canonical(orjson.loads(r.value)) for r in raw) == Counter(
        canonical(doc) for doc in expected_docs
    )
    for record in raw:
        parse_event_bytes(record.value, received_at=1)
    # byte for byte: a structured body as received; a batch's events are slices of its body;
    # a binary event embeds its body as `data`
    values = Counter(r.value for r in raw)
    exact = Counter(body for body, mode, _ in ledger.accepted if mode == "structured")
    assert not exact - values
    others = [(body, mode) for body, mode, _ in ledger.accepted if mode != "structured"]
    for value in (values - exact).elements():
        assert any(
            value in body if mode == "batch" else body.strip(b" \t\r\n") in value
            for body, mode in others
        ), value

    # every refusal is on the dead-letter topic with its reason and status, and its body
    # (none for a body that was too large to read)
    def dead_letter(record: Any) -> tuple[bytes, bytes, bytes]:
        headers = dict(record.headers)
        return record.value, headers["dl_reason"], headers["dl_status"]

    assert Counter(dead_letter(r) for r in dead) == Counter(
        (b"" if status == 413 else body, reason.encode(), str(status).encode())
        for body, status, reason in ledger.refused
    )

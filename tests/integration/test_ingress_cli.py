"""`wxcc-stream ingress` as an operator runs it: a process, JSON logs, clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp
import orjson
import pytest

from tests.integration.test_ingress_support import SECRETS_SETTING, new_event, signed_headers
from tests.kafka_helpers import read_all
from wxcc_stream.devtools.broker.process import free_port

pytestmark = pytest.mark.broker


async def test_ingress_command_serves_logs_json_and_stops_cleanly_on_sigterm(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "WXCC_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "WXCC_TOPIC_PREFIX": topic_prefix,
        "WXCC_INGRESS_SECRETS": SECRETS_SETTING,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wxcc_stream.cli", "ingress", "--port", str(port),
        "--path", "/hook",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                try:
                    async with http.get(base + "/readyz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("ingress did not become ready")
            doc = new_event()
            body = orjson.dumps(doc)
            async with http.post(base + "/hook", data=body, headers=signed_headers(body)) as r:
                assert r.status == 202
            bad = signed_headers(body, "wrong")
            async with http.post(base + "/hook", data=body, headers=bad) as r:
                assert r.status == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    lines = [orjson.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    messages = [line["msg"] for line in lines]
    assert "listening" in messages
    assert any(m.startswith("ingress stopped") for m in messages)
    refused = [line for line in lines if line["msg"] == "refused delivery"]
    assert refused[0]["reason"] == "bad_signature"
    assert refused[0]["event_id"] == doc["id"]
    text = err.decode()
    assert "secret-one" not in text
    assert signed_headers(body, "wrong")["X-WebexCC-Signature"] not in text
    records = await read_all(kafka_bootstrap, f"{topic_prefix}.raw", expected=1)
    assert [r.value for r in records] == [body]

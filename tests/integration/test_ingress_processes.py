"""`wxcc-stream ingress --processes 2`: two processes on one port (SO_REUSEPORT), each
storing what it acknowledged; SIGTERM stops both cleanly; each spools to its own directory."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.integration.test_ingress_support import SECRETS_SETTING, new_event, signed_headers
from tests.kafka_helpers import read_all
from wxcc_stream.devtools.broker.process import free_port

pytestmark = pytest.mark.broker


async def _fresh_connection_pid(base: str) -> int | None:
    """The pid of the process a new connection lands on (None while none answers)."""
    connector = aiohttp.TCPConnector(force_close=True)
    try:
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.get(base + "/healthz") as r,
        ):
            return int((await r.json())["pid"]) if r.status == 200 else None
    except aiohttp.ClientError:
        return None


async def test_two_ingress_processes_share_the_port_and_store_what_they_acknowledge(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    port = free_port()
    spool = tmp_path / "spool"
    env = {
        **os.environ,
        "WXCC_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "WXCC_TOPIC_PREFIX": topic_prefix,
        "WXCC_INGRESS_SECRETS": SECRETS_SETTING,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wxcc_stream.cli", "ingress", "--port", str(port),
        "--processes", "2", "--spool-dir", str(spool),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    pids: set[int] = set()
    bodies = [orjson.dumps(new_event()) for _ in range(40)]
    try:
        # both processes listen: new connections reach each of them sooner or later
        for _ in range(600):
            pid = await _fresh_connection_pid(base)
            if pid is not None:
                pids.add(pid)
            if len(pids) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(pids) == 2, f"only pids {pids} answered"
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                async with http.get(base + "/readyz") as r:
                    if r.status == 200:
                        break
                await asyncio.sleep(0.2)
        statuses = []
        for body in bodies:  # one connection each, so both processes take some
            connector = aiohttp.TCPConnector(force_close=True)
            async with (
                aiohttp.ClientSession(connector=connector) as http,
                http.post(base + "/webhooks/wxcc", data=body, headers=signed_headers(body)) as r,
            ):
                statuses.append(r.status)
        assert statuses == [202] * len(bodies)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    # the parent's children: each answered, each stopped after flushing its producer
    stopped = [line for line in err.decode().splitlines() if "ingress stopped" in line]
    assert len(stopped) == 2, err.decode()
    assert sorted(p.name for p in spool.iterdir()) == ["process-0", "process-1"]
    records = await read_all(kafka_bootstrap, f"{topic_prefix}.raw", expected=len(bodies))
    assert sorted(r.value for r in records) == sorted(bodies)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_sigterm_while_the_processes_start_stops_all_of_them(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    # the children are forked with the parent's forwarding signal handlers: a SIGTERM that
    # reaches them before the ingress installs its own must still end them
    env = {
        **os.environ,
        "WXCC_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "WXCC_TOPIC_PREFIX": topic_prefix,
        "WXCC_INGRESS_SECRETS": SECRETS_SETTING,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wxcc_stream.cli", "ingress", "--port", str(free_port()),
        "--processes", "2",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    pids: list[int] = []
    try:
        started = await asyncio.wait_for(proc.stderr.readline(), 30)
        pids = orjson.loads(started)["pids"]
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:  # never leave a process behind, whatever failed
        left = [pid for pid in pids if _alive(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert len(pids) == 2
    assert not left, err.decode()

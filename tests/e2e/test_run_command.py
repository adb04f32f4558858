"""The README's first command, `./scripts/run --simulate`, really runs the whole system."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

from tests.kafka_helpers import read_all
from wxcc_stream.devtools.broker.process import free_port

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]


async def _projections(bootstrap: str, topic: str) -> dict[bytes, dict[str, object]]:
    latest: dict[bytes, dict[str, object]] = {}
    for record in await read_all(bootstrap, topic, timeout_s=5.0):
        doc = orjson.loads(record.value)
        if record.key not in latest or doc["revision"] >= latest[record.key]["revision"]:
            latest[record.key] = doc
    return latest


def _worker_ready(web_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def test_run_simulate_brings_up_broker_ingress_worker_and_fills_projections(
    tmp_path: Path,
) -> None:
    port, web_port, api_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXCC_")}
    env.update(
        WXCC_BROKER_PORT=str(port),
        WXCC_BROKER_CONTROLLER_PORT=str(free_port()),
        WXCC_BROKER_DATA_DIR=str(tmp_path / "broker"),
        WXCC_BROKER_HEAP_MB="384",
        WXCC_INGRESS_PORT=str(free_port()),
        WXCC_API_PORT=str(api_port),
        WXCC_WORKER_WEB_PORT=str(web_port),
        WXCC_WORKER_DATA_DIR=str(tmp_path / "worker"),
        WXCC_WORKER_GRACE_MS="500",
        WXCC_WORKER_FLUSH_TIMEOUT_MS="500",
    )
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "run"), "--simulate", "--agents", "4", "--sim-duration", "20m",
         "--log-dir", str(tmp_path / "logs"), "--status-every", "1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    bootstrap = f"127.0.0.1:{port}"
    try:
        agents: dict[bytes, dict[str, object]] = {}
        tasks: dict[bytes, dict[str, object]] = {}
        deadline = time.monotonic() + 300  # bounded: it stops by itself
        # read only once the worker is ready: it creates the projection topics (compacted)
        while time.monotonic() < deadline and proc.poll() is None and not _worker_ready(web_port):
            time.sleep(1.0)
        while time.monotonic() < deadline and proc.poll() is None:
            agents = asyncio.run(_projections(bootstrap, "wxcc.projection.agent-state"))
            tasks = asyncio.run(_projections(bootstrap, "wxcc.projection.task-lifecycle"))
            # both projections are published per batch: wait for both to be final
            if (
                len(agents) == 4
                and tasks
                and all(not d["loggedIn"] for d in agents.values())
                and all(d["status"] == "ended" for d in tasks.values())
            ):
                break
            time.sleep(1.0)
        output = (tmp_path / "run.log").read_text(errors="replace")
        assert proc.poll() is None, f"run exited early:\n{output[-3000:]}"
        assert len(agents) == 4, output[-3000:]
        assert tasks, output[-3000:]
        # the simulated shift ends with every agent logged out and every task ended
        assert all(doc["state"] == "logged-out" for doc in agents.values())
        assert all(doc["status"] == "ended" for doc in tasks.values())
        # the API started with it, and its printed token reads the same agents
        found = re.search(r"wallboard: (http://\S+)/wallboard  \(token: (\S+)\)", output)
        assert found, output[-3000:]
        assert found.group(1) == f"http://127.0.0.1:{api_port}"
        request = urllib.request.Request(
            f"{found.group(1)}/agents", headers={"Authorization": f"Bearer {found.group(2)}"}
        )
        listed: list[object] = []
        for _ in range(60):  # the API catches up on its own
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    listed = orjson.loads(response.read())["items"]
                if len(listed) == 4:
                    break
            except urllib.error.HTTPError as exc:
                refused = exc.code
                if refused != 503:  # only "not caught up yet" is expected here
                    raise
            time.sleep(1.0)
        assert len(listed) == 4, output[-3000:]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=90) == 0
        output = (tmp_path / "run.log").read_text(errors="replace")
        assert "[run] all stopped" in output
        assert "simulator" in output
        # the services' logs went to their files; the terminal got the live status line
        for name in ("ingress", "worker", "api", "simulator"):
            assert (tmp_path / "logs" / f"{name}.log").stat().st_size > 0, name
        status = re.findall(r"events received ([\d,]+) \| worker lag \S+ \| agents (\S+)", output)
        assert status, output[-3000:]
        assert int(status[-1][0].replace(",", "")) > 0
        assert status[-1][1] == "4"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()

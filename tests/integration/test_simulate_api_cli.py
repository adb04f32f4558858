"""`wxcc-stream simulate-api` as a process: it serves the day on loopback until Ctrl-C,
and refuses bad flags before listening."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

from tests.unit.cli_runs import run_without_kafka
from wxcc_stream.devtools.wxcc_api import TokenSettings
from wxcc_stream.reconcile import ClientConfig, Credentials, WxccApiClient, search_tasks

ROOT = Path(__file__).resolve().parents[2]
START_MS = 1_709_539_200_000


async def test_the_command_serves_until_interrupted() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXCC_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wxcc_stream.cli", "simulate-api", "--port", "0",
        "--duration", "30m", "--seed", "9",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert first.startswith("WxCC API simulator on http://127.0.0.1:")
        base = first.split(" on ", 1)[1].split()[0]
        settings = TokenSettings()
        config = ClientConfig(
            base_url=base,
            token_url=f"{base}/v1/access_token",
            credentials=Credentials(settings.client_id, settings.client_secret),
        )
        async with aiohttp.ClientSession() as http:
            client = WxccApiClient(config, http)
            tasks = await search_tasks(client, START_MS - 3_600_000, START_MS + 6 * 3_600_000)
        assert tasks
    finally:
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 130


def test_bad_flags_are_refused_before_listening() -> None:
    done = run_without_kafka("simulate-api", "--too-many", "150%")
    assert done.returncode == 2
    assert "--too-many" in done.stderr

"""Run `wxcc-stream api` processes against the real broker and talk to them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.e2e.harness import ROOT
from wxcc_stream.base.settings import Settings
from wxcc_stream.devtools.broker.process import free_port

ADMIN_TOKEN = "admin-token-0123456789abcdef"
TEAM_TOKEN_PREFIX = "team-token-0123456789-"


@dataclass
class Answer:
    """One HTTP answer: status, headers and body (JSON decoded when it is JSON)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class ApiProcess:
    """One `python -m wxcc_stream.cli api` child on a free loopback port."""

    settings: Settings
    log_path: Path
    tokens: str = f"{ADMIN_TOKEN}=*"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ApiProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WXCC_")}
        env.update(
            PYTHONPATH=str(ROOT),
            WXCC_KAFKA_BOOTSTRAP=self.settings.kafka.bootstrap,
            WXCC_TOPIC_PREFIX=self.settings.topic.prefix,
            WXCC_API_PORT=str(self.port),
            WXCC_API_TOKENS=self.tokens,
            **self.extra_env,
        )
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wxcc_stream.cli", "api"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        return self

    def get(self, path: str, token: str | None = ADMIN_TOKEN, **headers: str) -> Answer:
        request = urllib.request.Request(self.base + path, headers=headers)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Answer(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            return Answer(exc.code, dict(exc.headers), exc.read())

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.assert_running()
            try:
                if self.get("/readyz", token=None).status == 200:
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"api not ready in {timeout_s} s:\n{self.log_tail()}")

    def all_pages(self, path: str, limit: int = 100, **params: str) -> list[dict[str, Any]]:
        """Every item of a list endpoint, following the cursors."""
        items: list[dict[str, Any]] = []
        cursor = None
        for _ in range(10_000):
            query = dict(params, limit=str(limit), **({"cursor": cursor} if cursor else {}))
            answer = self.get(f"{path}?{urllib.parse.urlencode(query)}")
            assert answer.status == 200, answer.body
            items += answer.json["items"]
            cursor = answer.json["next"]
            if cursor is None:
                return items
        raise AssertionError("pagination did not end")

    def assert_running(self) -> None:
        assert self.proc is not None, "not started"
        assert self.proc.poll() is None, self.log_tail()

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class SseEvent:
    """One Server-Sent Event."""

    event: str
    id: str | None
    data: Any


def read_events(
    api: ApiProcess,
    path: str,
    *,
    last_event_id: str | None = None,
    quiet_s: float = 2.0,
    max_events: int | None = None,
    counting: str | None = None,
    timeout_s: float = 30.0,
) -> list[SseEvent]:
    """Events of a stream until `max_events` (of type `counting`, when given), or none
    came for `quiet_s`."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=quiet_s)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    assert response.status == 200, response.read()
    events: list[SseEvent] = []
    deadline = time.monotonic() + timeout_s
    try:
        for event in _parse(response):
            events.append(event)
            counted = [e for e in events if counting is None or e.event == counting]
            if (max_events is not None and len(counted) >= max_events) or (
                time.monotonic() > deadline
            ):
                break
    except TimeoutError:
        pass  # quiet for quiet_s
    finally:
        connection.close()
    return events


def _parse(response: Any) -> Iterator[SseEvent]:
    fields: dict[str, str] = {}
    while True:
        line = response.readline()
        if not line:
            return
        text = line.decode().rstrip("\r\n")
        if text.startswith(":"):
            continue
        if not text:
            if "data" in fields:
                yield SseEvent(fields.get("event", "message"), fields.get("id"),
                               orjson.loads(fields["data"]))  # fmt: skip
            fields = {}
            continue
        name, _, value = text.partition(": ")
        fields[name] = value

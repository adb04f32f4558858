"""Start and stop a group of child processes together (for `wxcc-stream run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Service:
    """One child process: a name for logs and the `wxcc-stream` arguments that start it."""

    name: str
    args: tuple[str, ...]
    env: Mapping[str, str] | None = None
    # a service that is expected to finish (the simulator) does not stop the others
    one_shot: bool = False


class Supervisor:
    """Runs services as `python -m wxcc_stream.cli ...` children; stops all of them together."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = dict(env)
        self._children: dict[str, tuple[Service, subprocess.Popen[bytes]]] = {}

    def start(self, service: Service) -> None:
        env = {**self._env, **(service.env or {})}
        cmd = [sys.executable, "-m", "wxcc_stream.cli", *service.args]
        print(f"[run] starting {service.name}: wxcc-stream {' '.join(service.args)}", flush=True)
        self._children[service.name] = (service, subprocess.Popen(cmd, env=env))

    def first_failure(self) -> tuple[str, int] | None:
        """A long-running service that exited (name, code), or a one-shot that failed."""
        for name, (service, proc) in self._children.items():
            code = proc.poll()
            if code is None:
                continue
            if not service.one_shot or code != 0:
                return name, code
        return None

    def finished(self, name: str) -> bool:
        return name in self._children and self._children[name][1].poll() is not None

    def watch(self, until: float | None = None, stop_when_done: Sequence[str] = ()) -> int:
        """Wait until a service fails, Ctrl-C, `until` (monotonic), or the named ones finish."""
        while True:
            failure = self.first_failure()
            if failure is not None:
                name, code = failure
                print(f"[run] {name} exited with code {code}; stopping the rest", flush=True)
                return 1
            if stop_when_done and all(self.finished(n) for n in stop_when_done):
                return 0
            if until is not None and time.monotonic() >= until:
                return 0
            time.sleep(0.2)

    def stop_all(self, timeout_s: float = 20.0) -> None:
        """SIGTERM every child (newest first), then SIGKILL what is left after the timeout."""
        for name, (_, proc) in reversed(list(self._children.items())):
            if proc.poll() is None:
                print(f"[run] stopping {name}", flush=True)
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for _, proc in self._children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def interrupt_on_sigterm(signum: int, frame: object) -> None:
    """Signal handler: SIGTERM takes the same clean path as Ctrl-C."""
    raise KeyboardInterrupt


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """The current environment plus WXCC_* overrides for the children."""
    return {**os.environ, **overrides}

"""Start and stop a group of child processes together (for `wxcc-stream run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from wxcc_stream.base.parent_death import die_with_parent
from wxcc_stream.base.restart import RESTART_EXIT_CODE

__all__ = ["RESTART_EXIT_CODE", "Service", "Supervisor", "child_env", "interrupt_on_sigterm"]


@dataclass(frozen=True, slots=True)
class Service:
    """One child process: a name for logs and the `wxcc-stream` arguments that start it."""

    name: str
    args: tuple[str, ...]
    env: Mapping[str, str] | None = None
    # a service that is expected to finish (the simulator) does not stop the others
    one_shot: bool = False


class Supervisor:
    """Runs services as `python -m wxcc_stream.cli ...` children; stops all of them together.

    With a `log_dir`, each child's output goes to `<log_dir>/<name>.log` (the latest run's)
    instead of the terminal, so the services' logs do not mix.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        log_dir: Path | None = None,
        command: Sequence[str] = (sys.executable, "-m", "wxcc_stream.cli"),
    ) -> None:
        self._env = dict(env)
        self._command = tuple(command)
        self._log_dir = log_dir
        self._children: dict[str, tuple[Service, subprocess.Popen[bytes]]] = {}
        self._logs: list[IO[bytes]] = []

    def log_path(self, name: str) -> Path | None:
        return None if self._log_dir is None else self._log_dir / f"{name}.log"

    def start(self, service: Service, *, again: bool = False) -> None:
        env = {**self._env, **(service.env or {})}
        cmd = [*self._command, *service.args]
        where = self.log_path(service.name)
        shown = f" (log {where})" if where else ""
        print(f"[run] starting {service.name}: wxcc-stream {' '.join(service.args)}{shown}",
              flush=True)  # fmt: skip
        out: IO[bytes] | None = None
        if where is not None:
            where.parent.mkdir(parents=True, exist_ok=True)
            out = where.open("ab" if again else "wb")  # a restart keeps the log before it
            self._logs.append(out)
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT if out else None,
            preexec_fn=die_with_parent(signal.SIGTERM),  # no orphans if we are SIGKILLed
        )  # fmt: skip
        self._children[service.name] = (service, proc)

    def first_failure(self) -> tuple[str, int] | None:
        """A long-running service that exited (name, code), or a one-shot that failed; one
        that exited with `RESTART_EXIT_CODE` is started again instead."""
        for name, (service, proc) in list(self._children.items()):
            code = proc.poll()
            if code is None:
                continue
            if code == RESTART_EXIT_CODE and not service.one_shot:
                print(f"[run] {name} asked to be started again (exit {code})", flush=True)
                self.start(service, again=True)
                continue
            if not service.one_shot or code != 0:
                return name, code
        return None

    def finished(self, name: str) -> bool:
        return name in self._children and self._children[name][1].poll() is not None

    def watch(
        self,
        until: float | None = None,
        stop_when_done: Sequence[str] = (),
        on_tick: Callable[[], None] | None = None,
    ) -> int:
        """Wait until a service fails, Ctrl-C, `until` (monotonic), or the named ones finish."""
        while True:
            if on_tick is not None:
                on_tick()
            failure = self.first_failure()
            if failure is not None:
                name, code = failure
                where = self.log_path(name)
                print(f"\n[run] {name} exited with code {code}; stopping the rest"
                      + (f" (its log: {where})" if where else ""), flush=True)  # fmt: skip
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
        for log in self._logs:
            log.close()
        self._logs.clear()


def interrupt_on_sigterm(signum: int, frame: object) -> None:
    """Signal handler: SIGTERM takes the same clean path as Ctrl-C."""
    raise KeyboardInterrupt


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """The current environment plus WXCC_* overrides for the children."""
    return {**os.environ, **overrides}

"""`wxcc-stream ingress --processes N`: N ingress processes sharing one port.

One ingress process saturates one core (aiohttp, the checks and the Kafka client all run
on its event loop). N processes bind the same address with SO_REUSEPORT, so the kernel
spreads new connections over them; each has its own producer and, with a spool, its own
spool directory (`<spool dir>/process-<i>`: one writer per spool file). The parent only
starts them, forwards SIGTERM/SIGINT, and stops them all when one dies unasked (the
deployment's supervisor then restarts the whole group).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
from dataclasses import replace
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from wxcc_stream.base.parent_death import die_with_parent
from wxcc_stream.base.settings import Settings
from wxcc_stream.ingress.errors import SpoolError
from wxcc_stream.ingress.spool import LOG_NAME, POS_NAME

log = logging.getLogger("ingress")


def spool_dir_of(base: str, index: int, processes: int) -> str:
    """The spool directory of process `index` of `processes` ('' when spooling is off)."""
    if not base or processes == 1:
        return base
    return str(Path(base) / f"process-{index}")


def process_settings(settings: Settings, index: int, processes: int) -> Settings:
    """The settings of process `index`: its own spool directory, the rest shared."""
    spool = spool_dir_of(settings.ingress.spool_dir, index, processes)
    return replace(settings, ingress=replace(settings.ingress, spool_dir=spool))


def pending_bytes(spool_dir: Path) -> int:
    """Bytes of a spool directory's log not yet drained to Kafka (0 when there is none)."""
    log_path = spool_dir / LOG_NAME
    if not log_path.exists():
        return 0
    text = (spool_dir / POS_NAME).read_text().strip() if (spool_dir / POS_NAME).exists() else ""
    drained = int(text) if text.isdigit() else 0
    return max(0, log_path.stat().st_size - drained)


def unserved_spools(base: str, processes: int) -> list[Path]:
    """Spool directories under `base` holding undrained records that no process of an
    N-process layout would drain (left by a run with another process count)."""
    if not base:
        return []
    root = Path(base)
    served = {Path(spool_dir_of(base, i, processes)) for i in range(processes)}
    candidates = [root, *sorted(root.glob("process-*"))] if root.is_dir() else []
    return [d for d in candidates if d not in served and pending_bytes(d) > 0]


def check_spools(base: str, processes: int) -> None:
    """Refuse to start when records spooled by another layout would be left behind."""
    left = unserved_spools(base, processes)
    if left:
        names = ", ".join(str(d) for d in left)
        raise SpoolError(
            f"{names} still hold spooled records that no process of --processes {processes} "
            "drains: start with the process count that wrote them until they are drained"
        )


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _child(settings: Settings, index: int) -> None:
    # the fork copied the parent's forwarding handlers, with the stop signals blocked (see
    # run_processes): reset them first, then unblock, so a signal sent at any point ends
    # the process as it would a single ingress until the ingress installs its own
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    arm = die_with_parent(signal.SIGTERM)
    if arm is not None:
        arm()
    if os.getppid() == 1:  # the parent died before the signal was armed
        sys.exit(1)
    from wxcc_stream.ingress.main import run_ingress

    sys.exit(run_ingress(settings, reuse_port=True, process_index=index))


def run_processes(settings: Settings, processes: int) -> int:
    """Run `processes` ingress processes on the settings' port until SIGTERM/SIGINT (or
    until one of them exits unasked); the exit code."""
    check_spools(settings.ingress.spool_dir, processes)
    # fork: the children inherit the logging set up by the command, and nothing runs yet
    # (no event loop, no thread) that a fork could copy half-way
    context = multiprocessing.get_context("fork")
    children: list[BaseProcess] = []
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.pid is not None and child.exitcode is None:
                os.kill(child.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in _STOP_SIGNALS}
    try:
        for index in range(processes):
            started = context.Process(
                target=_child,
                args=(process_settings(settings, index, processes), index),
                name=f"wxcc-ingress-{index}",
            )
            # blocked across the fork: a child that ran the inherited `forward` would
            # SIGTERM its older siblings and ignore the signal itself; here it stays pending
            # (the parent's until it unblocks, the child's until it has reset its handlers)
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
            try:
                started.start()
                children.append(started)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        log.info("ingress processes started", extra={"pids": [c.pid for c in children]})
        running = list(children)
        failed = False
        while running:
            ended = wait([c.sentinel for c in running])
            for child in [c for c in running if c.sentinel in ended]:
                child.join()
                running.remove(child)
                if not stopping:
                    log.error(
                        "an ingress process exited unasked: stopping the others",
                        extra={"pid": child.pid, "exit_code": child.exitcode},
                    )
                    failed = True
                    forward(signal.SIGTERM, None)
        codes = [c.exitcode for c in children]
        return 1 if failed or any(code != 0 for code in codes) else 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:
            if child.exitcode is None:
                child.kill()
                child.join()

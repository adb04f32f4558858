"""Children that die with their parent: a SIGKILLed supervisor leaves no broker holding
its port. Linux's PR_SET_PDEATHSIG, armed in the child between fork and exec."""

from __future__ import annotations

import ctypes
import signal
import sys
import threading
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen` that sends `sig` to the child when its parent
    dies; None where it cannot work (not Linux, or not the main thread: the kernel ties the
    signal to the thread that forked, and an executor's thread may end before the process)."""
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return arm

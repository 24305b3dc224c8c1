"""Children that die with the process that started them (tests killed mid-run leave none)."""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """preexec_fn: the kernel SIGKILLs the child when the thread that started it exits.

    Start such children from the main thread only (a worker thread's exit counts).
    """
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

"""Child processes that die with the process that started them.

A worker, scheduler or redis-server started by a test (or by `scripts/local`)
used to outlive a killed parent: three orphan workers were seen burning CPU
after a pytest timeout. `die_with_parent` is a Popen
`preexec_fn` that asks Linux to SIGKILL the child when its parent dies
(prctl(2) PR_SET_PDEATHSIG), including when the parent is SIGKILLed itself.
Linux ties this to the *thread* that forked: start children from a thread that
lives as long as they should (the main thread, as every caller here does).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """In the child, between fork and exec: SIGKILL me (or send `sig`, e.g. SIGTERM for a
    `podman run` that must remove its container) when my parent dies."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        os._exit(127)  # never run a child that could be orphaned
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(127)

"""Removes a test session's containers when the session ends, however it ends.

Started by tests/containers.py with a pipe on stdin: podman containers are
children of conmon, not of pytest, so they outlive a killed pytest unless someone
removes them. This process blocks on stdin; when pytest exits or is killed
(even SIGKILL), the kernel closes the pipe, the read returns EOF, and every
container carrying the session's label is removed.

Usage: python container_reaper.py LABEL=VALUE
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def reap(label: str) -> None:
    ids = subprocess.run(
        ["podman", "ps", "-aq", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    if ids:
        subprocess.run(["podman", "rm", "-f", "-t", "0", *ids], capture_output=True, check=False)


def main() -> None:
    label = sys.argv[1]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for pytest: wait for EOF
    os.setsid()  # out of pytest's process group: a group kill must not stop the cleanup
    sys.stdin.buffer.read()
    reap(label)


if __name__ == "__main__":
    main()

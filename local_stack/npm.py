"""`npm ci` of a folder from its committed lock, once, safe when processes race to it.

The test suite runs in parallel workers (pytest-xdist) and several of them may need the
same node_modules at the same moment; a second `npm ci` into a folder another one is
filling breaks both. An exclusive lock on a file beside the lock file serialises them,
and the first one's install satisfies the rest.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path


def npm_ci(folder: Path, installed: str, *args: str, timeout: float = 600) -> bool:
    """Install `folder`'s packages unless `node_modules/<installed>` is there; True if it ran.

    `args` are extra `npm ci` flags (e.g. `--omit=dev`). Output goes to the caller's
    stderr only when npm fails (`check=True` raises with its exit code).
    """
    marker = folder / "node_modules" / installed
    if marker.is_dir():
        return False
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm not found: run scripts/bootstrap (it installs nodejs and npm)")
    with (folder / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_dir():
            return False
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", *args],
            cwd=folder,
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
        )
    return True

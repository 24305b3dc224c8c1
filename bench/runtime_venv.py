"""The Python the bench runs its Python workers with: by default a venv holding exactly
requirements/runtime.lock, as the platform image's /opt/venv does.

The dev venv (.venv) also holds Pulumi and what it brings, opentelemetry's SDK among
them, which redis-py imports whenever it is installed: about 30 ms of every worker's
start-up and some RSS for packages no pod has (docs/throughput.md, "Start-up"). The
venv is built once (about 30 s: `python -m venv`, then pip from the same index
scripts/bootstrap uses) and rebuilt when the lock changes; `--python current` runs
the workers with the bench's own interpreter instead.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Beside .venv, outside every package (tools that walk the packages must not see it).
RUNTIME_VENV = REPO / ".venv-runtime"
RUNTIME_LOCK = REPO / "requirements" / "runtime.lock"
PYTHONS = ("runtime", "current")


def runtime_python(venv: Path = RUNTIME_VENV, lock: Path = RUNTIME_LOCK) -> str:
    """The runtime venv's python, (re)built when missing or when the lock changed."""
    python = venv / "bin" / "python"
    stamp = venv / ".lock-sha256"
    want = hashlib.sha256(lock.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return str(python)
    print(f"building {venv} from {lock.name} (as the image's venv; once) ...", flush=True)
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*pip, "--no-deps", "-r", str(lock)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(
            f"pip could not install {lock} into {venv} (`--python current` runs the workers "
            f"with this interpreter instead):\n{done.stderr[-3000:]}"
        )
    stamp.write_text(want)
    return str(python)


def python_for(choice: str) -> str:
    """`runtime`: the runtime venv's python; `current`: this interpreter."""
    if choice == "current":
        return sys.executable
    if choice == "runtime":
        return runtime_python()
    raise ValueError(f"unknown python {choice!r} (known: {', '.join(PYTHONS)})")

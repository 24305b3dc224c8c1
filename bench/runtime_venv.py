"""The Python the bench runs its Python workers with: by default a venv holding exactly
requirements/runtime.lock, made from the image's own interpreter (Debian bookworm's
/usr/bin/python3.11) when this machine has it, as the platform image's /opt/venv is.

Why the interpreter matters: a development machine's Python is often another build
(pyenv's here: 3.11.7 with a shared libpython; Debian's 3.11.2 has it linked into the
executable), and the figures should be the image's. Measured at c=1 in back to back
runs, Debian's against pyenv's: 93.6 against 100.0 us of CPU per job, 0.27 against
0.31 s of start-up (docs/throughput.md, "Seventh round").

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
# The interpreter of the platform image (image_build/base.py PYTHON_BASE: bookworm's
# python3.11 and python3-venv).
IMAGE_PYTHON = Path("/usr/bin/python3.11")


def make_venv(venv: Path, image_python: Path) -> str:
    """A fresh venv at `venv` from the image's interpreter, else (not installed, or no
    python3-venv) from this one; the interpreter it was made from."""
    if venv.exists():
        shutil.rmtree(venv)
    if image_python.exists():
        made = subprocess.run(
            [str(image_python), "-m", "venv", str(venv)], capture_output=True, text=True
        )
        if made.returncode == 0:
            return str(image_python)
        print(
            f"{image_python} cannot make a venv ({made.stderr.strip()[-200:]}); "
            f"using {sys.executable}, not the image's interpreter (kept until the lock "
            f"changes: install python3-venv and delete {venv.name} to use the image's)",
            flush=True,
        )
        shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    return sys.executable


def runtime_python(
    venv: Path = RUNTIME_VENV, lock: Path = RUNTIME_LOCK, image_python: Path = IMAGE_PYTHON
) -> str:
    """The runtime venv's python, (re)built when missing, when the lock changed or when
    the image's interpreter appeared or went away (a venv made from this interpreter
    because the image's could not make one stays: make_venv says so)."""
    python = venv / "bin" / "python"
    stamp = venv / ".lock-sha256"
    base = str(image_python) if image_python.exists() else sys.executable
    want = hashlib.sha256(lock.read_bytes() + base.encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return str(python)
    print(f"building {venv} from {lock.name} (as the image's venv; once) ...", flush=True)
    made_from = make_venv(venv, image_python)
    print(f"  interpreter: {made_from}", flush=True)
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

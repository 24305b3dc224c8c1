"""`python -m workers` pauses the garbage collector for its start-up and turns it back on
(workers/startup_gc.py): a worker left without it would keep every reference cycle it
ever made. Each case runs `workers/__main__.py` in a fresh interpreter, with the pause,
the worker's loop or the ops CLI replaced by probes that print what they see."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.subjects import bench_spec
from local_stack.processes import ENV_PREFIX
from platform_spec.stack import REPO_ROOT

WORKER = """
import gc, runpy, sys
import workers.worker_command as command

def logging_configured(*args):
    print("during start-up: gc", gc.isenabled())

async def run_worker(queue, engine, spec, settings):
    print("worker running: gc", gc.isenabled(), "frozen", gc.get_freeze_count() > 0)

command.configure_logging = logging_configured
command.run_worker = run_worker
sys.argv = ["workers", "--queue", "q"]
runpy.run_module("workers", run_name="__main__")
"""

ORDER = """
import gc, runpy, sys
import workers.startup_gc as startup_gc

pause = startup_gc.pause

def probe():
    print("heavy imports before the pause:", "pydantic" in sys.modules)
    pause()

startup_gc.pause = probe
sys.argv = ["workers", "--help"]
try:
    runpy.run_module("workers", run_name="__main__")
except SystemExit:
    pass
"""

OPS = """
import gc, runpy, sys
import workers.cli as cli

cli.main = lambda: print("ops command: gc", gc.isenabled())
sys.argv = ["workers", "ops", "counts", "q"]
runpy.run_module("workers", run_name="__main__")
"""


def _env() -> dict[str, str]:
    """This environment without the platform's settings (as local_stack.processes does)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}


def _run(code: str, env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_it_should_pause_the_gc_for_start_up_and_run_the_worker_with_it(tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(bench_spec("q", 1).model_dump_json(by_alias=True, exclude_unset=True))
    assert _run(WORKER, {**_env(), f"{ENV_PREFIX}SPEC_FILE": str(spec_file)}) == [
        "during start-up: gc False",
        "worker running: gc True frozen True",
    ]


def test_it_should_pause_the_gc_before_the_heavy_imports() -> None:
    """The pause comes first in workers/__main__.py: nothing heavy is imported before it."""
    assert _run(ORDER, _env())[0] == "heavy imports before the pause: False"


def test_it_should_run_the_ops_commands_with_the_gc_on() -> None:
    assert _run(OPS, _env()) == ["ops command: gc True"]

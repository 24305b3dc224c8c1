"""`python -m workers --queue Q [--engine E]`: the worker's own command line, without typer.

What a pod runs is parsed here with argparse, so the worker process does not
import typer, click and the `ops` commands before its first job (start-up is
import time: docs/throughput.md, "Start-up"). Everything else (`ops ...`,
`--help`, no arguments) goes to workers/cli.py, whose `--queue` option runs
the same `run` below. workers/__main__.py picks one of the two.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from platform_spec.settings import RuntimeSettings
from workers.engine_factory import DEFAULT_ENGINE, ENGINES
from workers.event_loop import event_loop_of
from workers.event_loop import run as run_on_loop
from workers.logs import configure_logging
from workers.runtime import run_worker
from workers.startup_gc import resume as resume_gc

# The worker's options; anything else (a subcommand, --help) is workers.cli's.
QUEUE_FLAGS = ("--queue", "-q")
ENGINE_FLAG = "--engine"
HELP_FLAGS = ("--help", "-h")


def is_worker_command(argv: Sequence[str]) -> bool:
    """True when `argv` runs the worker: a queue given, no subcommand, no --help."""
    if not argv or argv[0] == "ops" or any(a in HELP_FLAGS for a in argv):
        return False
    return any(a in QUEUE_FLAGS or a.startswith(f"{QUEUE_FLAGS[0]}=") for a in argv)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m workers",
        description="Run the worker of one queue until SIGTERM (then drain and exit 0). "
        "`python -m workers --help` lists the ops commands too.",
    )
    p.add_argument(*QUEUE_FLAGS, dest="queue", required=True, help="Queue to work on.")
    p.add_argument(
        ENGINE_FLAG,
        default=None,
        choices=ENGINES,
        help=f"Fetch/finish loop: {', '.join(ENGINES)} (default {DEFAULT_ENGINE}, on a "
        "Redis Cluster too).",
    )
    return p


def run(queue: str, engine: str | None) -> None:
    """Configure logging from the settings, read the spec, then run the worker until
    SIGTERM on the queue's `eventLoop` (the settings' event_loop wins when set). The log
    level becomes the queue's `logLevel` once the runtime starts, unless the settings set
    one. The garbage collector, paused for start-up by workers/__main__.py, is back on
    from here (workers/startup_gc.py)."""
    settings = RuntimeSettings()
    configure_logging(settings.log_format, settings.log_level or "info")
    spec = settings.load_spec()
    resume_gc()
    loop = event_loop_of(settings.event_loop, spec, queue)
    run_on_loop(run_worker(queue, engine, spec, settings), loop)


def main() -> None:
    args = parser().parse_args()
    run(args.queue, args.engine)

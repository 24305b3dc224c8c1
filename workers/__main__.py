"""`python -m workers`: the worker (workers/worker_command.py), or the ops CLI (workers.cli).

The worker's command line is told apart here, at import time, so a pod's
process never imports typer and the ops commands (start-up, docs/throughput.md).
The garbage collector is paused for the imports below (workers/startup_gc.py):
the worker resumes it once its spec is read, the ops CLI right after them.
"""

import sys

from workers import startup_gc

startup_gc.pause()

from workers.worker_command import is_worker_command  # noqa: E402  (after the pause)

if is_worker_command(sys.argv[1:]):
    from workers.worker_command import main
else:
    from workers.cli import main

    startup_gc.resume()

main()

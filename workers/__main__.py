"""`python -m workers`: the worker (workers/worker_command.py), or the ops CLI (workers.cli).

The worker's command line is told apart here, at import time, so a pod's
process never imports typer and the ops commands (start-up, docs/throughput.md).
"""

import sys

from workers.worker_command import is_worker_command

if is_worker_command(sys.argv[1:]):
    from workers.worker_command import main
else:
    from workers.cli import main

main()

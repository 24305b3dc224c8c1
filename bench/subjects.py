"""What the bench runs: the command and environment of each implementation under test.

- `worker`: the product, `python -m workers --queue Q` with its defaults (spec
  file, payload validation by bench/handler.py, metrics, JSON logs, health
  server). It runs until the bench sends SIGTERM, like a pod.
- `fast`: the fast engine alone (bench/pyworker.py), the reference for what
  the runtime around it costs.
- `stock`: Python bullmq's own `Worker` (bench/pyworker.py).
- `node`: a Node BullMQ 6 worker (bench/node/worker.mjs).
- `worker[baseline]`: the real worker from another source tree (`--baseline
  DIR`, e.g. `git archive <commit> | tar -x -C DIR`), to measure a change
  against what it replaces in the same run.
The reference workers exit by themselves after N completions. Variants in
brackets switch one lever through the environment (LEVER_ENV).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from local_stack.processes import process_env
from local_stack.redis_server import RedisServer, free_port
from platform_spec.model import PlatformSpec

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
NODE_DIR = BENCH_DIR / "node"
SUBJECTS = ("node", "worker", "fast", "stock")
DEFAULT_SUBJECTS = ("node", "worker", "fast")
# The bench handlers (bench/handler.py), by job kind.
HANDLER = "bench.handler"
KINDS = ("noop", "io")
BASELINE = "worker[baseline]"
# The worker's drain after SIGTERM: its queue has nothing left to run by then.
GRACE_SECONDS = 20

LEVER_ENV = {
    # One JSON line per completed job, as before the success-log lever.
    "worker[log=each]": {"BULLMQ_PLATFORM_LOG_LEVEL": "DEBUG"},
    # Batched per tick at concurrency 1 too (flush "auto" writes at once there).
    "worker[flush=tick]": {"BULLMQ_PLATFORM_FAST_FLUSH": "tick"},
    # Batched writes leave once per tick only (before the auto chunk: docs/throughput.md).
    "worker[chunk=0]": {"BULLMQ_PLATFORM_FAST_FLUSH_CHUNK": "0"},
    # asyncio's own event loop instead of uvloop (workers/event_loop.py).
    "worker[loop=asyncio]": {"BULLMQ_PLATFORM_EVENT_LOOP": "asyncio"},
    "fast[flush=adaptive]": {"BULLMQ_PLATFORM_FAST_FLUSH": "adaptive"},
    "fast[flush=immediate]": {"BULLMQ_PLATFORM_FAST_FLUSH": "immediate"},
    "fast[no-fetch-next]": {"BULLMQ_PLATFORM_FAST_NO_FETCH_NEXT": "1"},
}


@dataclass(frozen=True)
class Launch:
    """How to start one subject, and where (if anywhere) it serves /metrics."""

    argv: list[str]
    env: dict[str, str]
    metrics_url: str | None = None
    exits_by_itself: bool = True
    cwd: Path = REPO


def base_of(subject: str) -> str:
    return subject.split("[", 1)[0]


def bench_spec(queue: str, concurrency: int) -> PlatformSpec:
    """A one-queue dev spec served by the bench handlers; retention comes from each job."""
    return PlatformSpec.model_validate(
        {
            "environment": "dev",
            "queues": [
                {
                    "name": queue,
                    "handler": HANDLER,
                    "jobs": [{"name": kind} for kind in KINDS],
                    "concurrency": concurrency,
                    "attempts": 1,
                    "jobTimeoutSeconds": 10,
                    "terminationGracePeriodSeconds": GRACE_SECONDS,
                }
            ],
            "schedules": [],
            "maintenanceQueue": queue,
        }
    )


def launch(
    subject: str,
    node: str,
    server: RedisServer,
    queue: str,
    n: int,
    concurrency: int,
    kind: str,
    workdir: Path,
    baseline: Path | None = None,
    python: str = sys.executable,
) -> Launch:
    """The command line and environment of `subject` draining `queue` (Python subjects
    run with `python`: bench/runtime_venv.py)."""
    base = base_of(subject)
    lever = LEVER_ENV.get(subject, {})
    if base == "worker":
        spec_file = workdir / f"{queue}.json"
        # Only what bench_spec sets: a baseline tree older than a new spec field (with its
        # default) still reads the file, and applies its own defaults to the rest.
        spec = bench_spec(queue, concurrency)
        spec_file.write_text(spec.model_dump_json(by_alias=True, exclude_unset=True))
        port = free_port()
        root = REPO
        if subject == BASELINE:
            if baseline is None:
                raise ValueError(f"{BASELINE} needs --baseline DIR")
            root = baseline.resolve()
            # The baseline tree has no bench handlers, or older ones: it gets ours.
            (root / "bench").mkdir(exist_ok=True)
            (root / "bench" / "handler.py").write_text((BENCH_DIR / "handler.py").read_text())
        env = process_env(server, "worker", spec_file, port, extra=lever, pythonpath=[root])
        return Launch(
            argv=[python, "-m", "workers", "--queue", queue],
            env=env,
            metrics_url=f"http://127.0.0.1:{port}/metrics",
            exits_by_itself=False,
            cwd=root,
        )
    env = process_env(server, "worker", workdir / "unused-spec.json", 0, extra=lever)
    if base == "node":
        script = str(NODE_DIR / "worker.mjs")
        return Launch([node, script, queue, str(n), str(concurrency), kind], env)
    argv = [python, "-m", "bench.pyworker", base, queue, str(n), str(concurrency), kind]
    return Launch(argv, env)

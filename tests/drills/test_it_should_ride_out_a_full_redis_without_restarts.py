"""Drill (issue 25, item 5, in part): a full Redis does not restart workers.

With maxmemory reached (noeviction) a worker cannot fetch (moving a job to
active is a write). It used to fail liveness after `livenessStaleSeconds` and be
restarted over and over (a restart storm), and `ops enqueue` died with a
traceback. Now the refused fetch counts as a live loop: /healthz stays 200 on
both engines, `ops enqueue` refuses with a clear message, and once memory is
freed the same worker process drains every job exactly once.

Redis filled to the brim is the worst case: the producers' limit below maxmemory
(test_it_should_drain_a_nearly_full_redis_while_refusing_producers.py) keeps it
from happening through the platform's own producers.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from drill_support import Figures, add, admin, drained, drill_spec, runs, stop, wait_until
from drill_support import workers as start_workers

from local_stack.processes import stop_all
from local_stack.redis_server import RedisServer
from platform_spec.stack import REPO_ROOT

pytestmark = [pytest.mark.redis, pytest.mark.drill]
JOBS = 30
STALE_SECONDS = 2.0
FILLER = 64 * 1024


def _fill(client: redis.Redis) -> int:
    """Write filler strings until Redis refuses (bounded); how many were written."""
    for n in range(10_000):
        try:
            client.set(f"bull:filler:{n}", "x" * FILLER)
        except redis.exceptions.OutOfMemoryError:
            return n
    raise AssertionError("Redis never filled up")


@pytest.mark.parametrize("engine", ["fast", "stock"])
def test_it_should_keep_workers_live_while_redis_is_full_and_drain_after(
    private_redis: Callable[..., RedisServer], queue_name: str, tmp_path: Path, engine: str
) -> None:
    server = private_redis(maxmemory="16mb")
    spec = drill_spec(queue_name)
    client = admin(server)
    add(server, queue_name, JOBS)
    fillers = _fill(client)
    env = {"BULLMQ_PLATFORM_WORKER_LIVENESS_STALE_SECONDS": str(STALE_SECONDS)}
    (worker,) = start_workers(server, spec, tmp_path, 1, engine=engine, extra_env=env)
    try:
        assert wait_until(lambda: worker.probe("/healthz") == 200, timeout=60)
        probes: list[int | None] = []
        deadline = time.monotonic() + 3 * STALE_SECONDS
        while time.monotonic() < deadline:
            probes.append(worker.probe("/healthz", timeout=2))
            time.sleep(0.25)
        stuck_while_full = int(client.zcard(f"bull:{queue_name}:completed"))
        refused = subprocess.run(
            [sys.executable, "-m", "workers", "ops", "enqueue", queue_name, "work"],
            env=worker.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        for n in range(fillers):
            client.unlink(f"bull:filler:{n}")
        done = wait_until(drained(client, queue_name, JOBS), timeout=60)
        seen = runs(client, queue_name)
        failed = {
            i: client.hget(f"bull:{queue_name}:{i}", "failedReason")
            for i in client.zrange(f"bull:{queue_name}:failed", 0, -1)
        }
        starts = worker.starts
        codes = stop_all([worker])
    finally:
        stop([worker])
        client.close()
    completed = len(seen.done)
    figures = Figures(
        f"full Redis ({engine})",
        sent=JOBS,
        completed=completed,
        duplicated=seen.duplicated,
        lost=JOBS - completed,
        extra={
            "healthz_200_while_full": f"{sum(1 for p in probes if p == 200)}/{len(probes)}",
            "completed_while_full": stuck_while_full,
            "enqueue_exit": refused.returncode,
            "worker_starts": starts,
            "failed": failed,
        },
    )
    figures.check()
    assert probes and all(p == 200 for p in probes), probes
    assert refused.returncode == 3, refused.stderr
    # Refused by the platform's producers' limit (workers/memory_guard.py) before Redis's own.
    assert "enqueue refused: Redis is" in refused.stderr and "full" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert done and seen.duplicated == 0
    assert starts == 1 and all(code == 0 for code in codes.values()), codes

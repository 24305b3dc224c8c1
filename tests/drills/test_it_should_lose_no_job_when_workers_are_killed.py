"""Drill 1: 2,000 jobs while worker processes are killed with SIGKILL at random moments.

Three `python -m workers` processes share a queue; at random moments one is
frozen (SIGSTOP), the jobs it has in flight are counted (active jobs whose
handler runs in that pid), then it is killed (SIGKILL) and started again, as
the kubelet would. Every job must complete; executions beyond one per job may
only come from jobs in flight at the kills, and the idempotent handler
(SADD of the job id) keeps the effect at exactly one per job. The queue is
topped up between kills (drill_support.Feeder), so every kill lands while work
remains, however fast the machine drains it.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest
import redis
from drill_handlers import keys
from drill_support import (
    Feeder,
    Figures,
    admin,
    counts,
    drained,
    drill_spec,
    runs,
    stop,
    wait_until,
    workers,
)

from local_stack.processes import PlatformProcess, stop_all
from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]
JOBS = 2000
JOB_SECONDS = 0.05
MAX_KILLS = 8
# Jobs kept waiting between kills (3 workers x concurrency 8 run 24 at a time).
BACKLOG = 200


def _in_flight(client: redis.Redis, queue: str, victim: PlatformProcess) -> int:
    """Jobs `victim` (frozen) holds whose handler started: the only candidates for a re-run."""
    active = client.lrange(f"bull:{queue}:active", 0, -1)
    if not active:
        return 0
    owners = client.hmget(keys("bull", queue)["owner"], active)
    return sum(1 for owner in owners if owner == str(victim.pid))


def test_it_should_complete_every_job_when_workers_are_killed_at_random(
    redis_server: RedisServer, queue_name: str, tmp_path: Path
) -> None:
    spec = drill_spec(queue_name, concurrency=8)
    client = admin(redis_server)
    procs = workers(redis_server, spec, tmp_path, 3)
    rng = random.Random(20240801)
    kills = in_flight = 0
    started = time.monotonic()
    feeder = Feeder(redis_server, client, queue_name, JOB_SECONDS, backlog=BACKLOG)
    try:
        feeder.add(JOBS)
        while kills < MAX_KILLS and time.monotonic() - started < 90:
            time.sleep(rng.uniform(0.3, 1.0))
            feeder.top_up()  # kills must land while work remains, however fast the machine
            victim = rng.choice([p for p in procs if p.running])
            victim.signal(signal.SIGSTOP)
            in_flight += _in_flight(client, queue_name, victim)
            victim.kill()
            kills += 1
            victim.start()
        finished = wait_until(drained(client, queue_name, feeder.sent), timeout=120, pause=0.25)
        codes = stop_all(procs)
        seen = runs(client, queue_name)
        final = counts(client, queue_name)
    finally:
        stop(procs)
        client.close()
    figures = Figures(
        "worker SIGKILL",
        sent=feeder.sent,
        completed=len(seen.done),
        duplicated=seen.duplicated,
        lost=feeder.sent - len(seen.done),
        extra={
            "kills": kills,
            "in_flight_at_kills": in_flight,
            "executions": seen.executions,
            "bullmq_completed": final["completed"],
            "failed": final["failed"],
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    figures.check()
    assert finished, f"queue not drained: {final}"
    assert kills >= 3, "too few kills landed while work remained"
    assert final["completed"] == feeder.sent and final["failed"] == 0, final
    assert seen.duplicated <= in_flight, figures.report()
    assert all(code == 0 for code in codes.values()), codes

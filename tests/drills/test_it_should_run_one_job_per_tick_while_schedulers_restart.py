"""Drill 5: three scheduler replicas, restarted over and over (SIGKILL and SIGTERM).

A real worker process runs an every-second schedule's ticks. Every tick must
run exactly once: no duplicate from replicas racing to register, no second
scheduler, no gap the scheduler caused (the scheduler tests' own check).
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest
from drill_support import (
    Figures,
    admin,
    assert_one_job_per_tick,
    drill_spec,
    schedulers,
    stop,
    tick_times,
    wait_until,
    workers,
)

from local_stack.processes import stop_all
from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]
SCHEDULE = "drill-tick"
RESTARTS = 9


def test_it_should_run_one_job_per_tick_while_three_schedulers_restart(
    redis_server: RedisServer, queue_name: str, tmp_path: Path
) -> None:
    cron = {"name": SCHEDULE, "queue": queue_name, "jobName": "tick", "cron": "* * * * * *"}
    spec = drill_spec(queue_name, schedules=[cron])
    client = admin(redis_server)
    (worker,) = workers(redis_server, spec, tmp_path, 1)
    replicas = schedulers(redis_server, spec, tmp_path, 3)
    rng = random.Random(5)
    kinds = {"SIGKILL": 0, "SIGTERM": 0}
    started = time.monotonic()
    try:
        assert wait_until(lambda: len(tick_times(client, queue_name, SCHEDULE)[0]) >= 2, 60)
        for n in range(RESTARTS):
            time.sleep(rng.uniform(0.2, 1.2))
            replica = replicas[n % 3]
            if n % 2:
                replica.terminate(timeout=20)
                kinds["SIGTERM"] += 1
            else:
                replica.signal(signal.SIGKILL)
                replica.wait(10)
                kinds["SIGKILL"] += 1
            replica.start()
        restarted_ms = int(time.time() * 1000)

        def after() -> int:
            return sum(1 for t in tick_times(client, queue_name, SCHEDULE)[0] if t >= restarted_ms)

        ticking = wait_until(lambda: after() >= 4, timeout=60)
        healthy = wait_until(lambda: all(r.probe("/healthz") == 200 for r in replicas), 60)
        codes = stop_all([*replicas, worker])
        ticks, ran_at = tick_times(client, queue_name, SCHEDULE)
        registered = int(client.zcard(f"bull:{queue_name}:repeat"))
    finally:
        stop([*replicas, worker])
        client.close()
    shape = assert_one_job_per_tick(ticks, ran_at=ran_at)
    figures = Figures(
        "3 scheduler replicas restarted",
        sent=len(set(ticks)),
        completed=len(set(ticks)),
        duplicated=shape["duplicates"],
        lost=shape["gaps"],
        extra={
            **kinds,
            "late_worker_gaps": shape["late_worker_gaps"],
            "schedulers_in_redis": registered,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    figures.check()
    assert ticking and healthy, "ticks or health did not come back after the last restart"
    assert registered == 1, "one job scheduler per schedule, whatever the replicas did"
    assert all(code == 0 for code in codes.values()), codes

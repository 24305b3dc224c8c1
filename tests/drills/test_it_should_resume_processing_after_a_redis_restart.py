"""Drill 4: Redis restarts under a running worker and scheduler; both reconnect by themselves.

Jobs flow and an every-second schedule ticks; Redis is killed and, after a few
seconds down, started again on the same port. Without any restart of theirs,
the worker takes new jobs again, ticks resume, and both answer their probes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from drill_support import (
    Figures,
    add,
    admin,
    drill_spec,
    runs,
    schedulers,
    stop,
    tick_times,
    wait_until,
    work_runs,
    workers,
)

from local_stack.processes import stop_all
from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]
SCHEDULE = "drill-tick"
BATCH = 20
DOWN_SECONDS = 3


def test_it_should_resume_processing_after_a_redis_restart(
    private_redis: Callable[..., RedisServer], queue_name: str, tmp_path: Path
) -> None:
    server = private_redis(persistence={"appendfsync": "always"})
    cron = {"name": SCHEDULE, "queue": queue_name, "jobName": "tick", "cron": "* * * * * *"}
    spec = drill_spec(queue_name, schedules=[cron])
    (worker,) = workers(server, spec, tmp_path, 1)
    (sched,) = schedulers(server, spec, tmp_path, 1)
    procs = [worker, sched]
    pids = (worker.pid, sched.pid)
    started = time.monotonic()
    client = admin(server)
    try:
        add(server, queue_name, BATCH)
        assert wait_until(lambda: len(runs(client, queue_name).done) >= BATCH + 2, timeout=60)
        ticks_before = len(tick_times(client, queue_name, SCHEDULE)[0])
        client.close()
        server.stop(kill=True)
        time.sleep(DOWN_SECONDS)
        server.start()
        restarted = time.monotonic()
        restarted_ms = int(time.time() * 1000)
        client = admin(server)
        add(server, queue_name, BATCH, first=BATCH)
        after = {f"j{n}" for n in range(BATCH, 2 * BATCH)}
        resumed = wait_until(lambda: after <= runs(client, queue_name).done, timeout=90)
        resume_seconds = round(time.monotonic() - restarted, 1)

        def ticks_after() -> int:
            return sum(1 for t in tick_times(client, queue_name, SCHEDULE)[0] if t >= restarted_ms)

        ticking = wait_until(lambda: ticks_after() >= 2, timeout=60)
        probes = {
            "worker /healthz": wait_until(lambda: worker.probe("/healthz") == 200, timeout=30),
            "worker /readyz": wait_until(lambda: worker.probe("/readyz") == 200, timeout=30),
            "scheduler /healthz": wait_until(lambda: sched.probe("/healthz") == 200, timeout=60),
        }
        same_processes = (worker.pid, sched.pid) == pids and worker.running and sched.running
        codes = stop_all(procs)
        seen = work_runs(runs(client, queue_name))
    finally:
        stop(procs)
        client.close()
    lost_after = len(after - seen.done)
    figures = Figures(
        "Redis restart (workers and scheduler reconnect)",
        sent=BATCH,
        completed=len(after & seen.done),
        duplicated=seen.duplicated,
        lost=lost_after,
        extra={
            "jobs_before_restart": BATCH,
            "seconds_to_resume": resume_seconds,
            "ticks_before": ticks_before,
            "ticks_after": ticks_after(),
            "processes_kept": same_processes,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    figures.check()
    assert resumed, "the worker did not take jobs again after Redis came back"
    assert ticking, "schedule ticks did not resume after Redis came back"
    assert all(probes.values()), probes
    assert same_processes, "a process exited instead of reconnecting"
    assert all(code == 0 for code in codes.values()), codes

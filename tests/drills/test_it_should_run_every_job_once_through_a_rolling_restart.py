"""Drill 2: SIGTERM to every worker in turn during long jobs (a rolling restart).

Each worker, when signalled, stops fetching, finishes the jobs it runs and
exits 0; its replacement starts before the next worker is signalled. Every job
completes exactly once: no job is handed back half done, none runs twice.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from drill_handlers import keys
from drill_support import (
    Figures,
    add,
    admin,
    counts,
    drained,
    drill_spec,
    runs,
    stop,
    wait_until,
    workers,
)

from local_stack.processes import stop_all
from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]
JOBS = 36
JOB_SECONDS = 1.5


def test_it_should_complete_every_job_exactly_once_through_a_rolling_restart(
    redis_server: RedisServer, queue_name: str, tmp_path: Path
) -> None:
    spec = drill_spec(queue_name, concurrency=4)
    client = admin(redis_server)
    procs = workers(redis_server, spec, tmp_path, 3)
    owner_key = keys("bull", queue_name)["owner"]
    started = time.monotonic()
    drained_running: list[int] = []
    exit_codes: list[int | None] = []
    try:
        add(redis_server, queue_name, JOBS, seconds=JOB_SECONDS)
        for proc in procs:
            pid = str(proc.pid)

            def busy(pid: str = pid) -> bool:
                active = client.lrange(f"bull:{queue_name}:active", 0, -1)
                owners = client.hmget(owner_key, active) if active else []
                return sum(owner == pid for owner in owners) >= 2

            assert wait_until(busy, timeout=60), f"{proc.name} never got busy"
            active = client.lrange(f"bull:{queue_name}:active", 0, -1)
            drained_running.append(sum(o == pid for o in client.hmget(owner_key, active)))
            proc.signal(signal.SIGTERM)
            exit_codes.append(proc.wait(proc.grace_seconds))
            proc.start()  # the replacement pod
            assert wait_until(lambda p=proc: p.probe("/readyz") == 200, timeout=60)
        finished = wait_until(drained(client, queue_name, JOBS), timeout=120, pause=0.25)
        exit_codes += stop_all(procs).values()
        seen = runs(client, queue_name)
        final = counts(client, queue_name)
    finally:
        stop(procs)
        client.close()
    figures = Figures(
        "rolling restart (SIGTERM)",
        sent=JOBS,
        completed=len(seen.done),
        duplicated=seen.duplicated,
        lost=JOBS - len(seen.done),
        extra={
            "sigterms": len(procs),
            "running_at_sigterm": drained_running,
            "exit_codes": exit_codes,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    figures.check()
    assert finished, final
    assert seen.duplicated == 0 and set(seen.runs.values()) == {1}, figures.report()
    assert final["completed"] == JOBS and final["failed"] == 0, final
    assert all(code == 0 for code in exit_codes), exit_codes

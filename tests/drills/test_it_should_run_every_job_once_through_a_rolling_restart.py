"""Drill 2: SIGTERM to every worker in turn during long jobs (a rolling restart).

Each worker, when signalled, stops fetching, finishes the jobs it runs and
exits 0; its replacement starts before the next worker is signalled. Every job
completes exactly once: no job is handed back half done, none runs twice.

A worker is signalled while it holds at least 2 jobs. The queue is fed until
that holds (drill_support.Feeder): a fixed batch could be done before the last
worker is looked at on a fast machine (`worker-2 never got busy`).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
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

from local_stack.processes import stop_all
from local_stack.redis_server import RedisServer
from platform_spec.keys import DEFAULT_PREFIX, QueueKeys

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]
JOBS = 36
JOB_SECONDS = 1.5
# Jobs kept waiting while a worker is awaited to get busy (3 workers x concurrency 4 run 12).
BACKLOG = 8


def test_it_should_complete_every_job_exactly_once_through_a_rolling_restart(
    redis_server: RedisServer, queue_name: str, tmp_path: Path
) -> None:
    spec = drill_spec(queue_name, concurrency=4)
    client = admin(redis_server)
    procs = workers(redis_server, spec, tmp_path, 3)
    owner_key = keys(DEFAULT_PREFIX, queue_name)["owner"]
    active_key = QueueKeys(DEFAULT_PREFIX, queue_name).active
    started = time.monotonic()
    drained_running: list[int] = []
    exit_codes: list[int | None] = []
    feeder = Feeder(redis_server, client, queue_name, JOB_SECONDS, backlog=BACKLOG)
    try:
        feeder.add(JOBS)
        for proc in procs:
            pid = str(proc.pid)

            def busy(pid: str = pid) -> bool:
                active = client.lrange(active_key, 0, -1)
                owners = client.hmget(owner_key, active) if active else []
                return sum(owner == pid for owner in owners) >= 2

            assert feeder.until(busy, timeout=60), f"{proc.name} never got busy"
            active = client.lrange(active_key, 0, -1)
            drained_running.append(sum(o == pid for o in client.hmget(owner_key, active)))
            proc.signal(signal.SIGTERM)
            exit_codes.append(proc.wait(proc.grace_seconds))
            proc.start()  # the replacement pod
            assert wait_until(lambda p=proc: p.probe("/readyz") == 200, timeout=60)
        finished = wait_until(drained(client, queue_name, feeder.sent), timeout=120, pause=0.25)
        exit_codes += stop_all(procs).values()
        seen = runs(client, queue_name)
        final = counts(client, queue_name)
    finally:
        stop(procs)
        client.close()
    figures = Figures(
        "rolling restart (SIGTERM)",
        sent=feeder.sent,
        completed=len(seen.done),
        duplicated=seen.duplicated,
        lost=feeder.sent - len(seen.done),
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
    assert final["completed"] == feeder.sent and final["failed"] == 0, final
    assert all(code == 0 for code in exit_codes), exit_codes

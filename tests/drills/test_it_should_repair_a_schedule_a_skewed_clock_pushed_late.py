"""Drill (issue 25, item 6): one skewed clock does not stop a schedule.

A worker whose clock runs 1 h ahead produces a scheduler's next job for its own
"now": due an hour late by everybody else's clock, so no tick would run for the
rest of the hour (a next job exists, so the scheduler saw no drift). Here that
worker's step is replayed with bullmq's own `upsertJobScheduler` under a clock
moved 3,600 s ahead, against a real worker and scheduler process. The
scheduler must notice the next job is due later than one interval from now,
re-create it, count the repair, and ticks must go on with no gap longer than a
reconcile interval. The workers' clock skew against Redis is exported too.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from unittest import mock

import httpx
import pytest
from bullmq import Queue as BullQueue
from drill_support import Figures, admin, drill_spec, schedulers, stop, tick_times, wait_until
from drill_support import workers as start_workers

from local_stack.processes import stop_all
from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.drill]
SCHEDULE = "skew-tick"
EVERY_MS = 1000
SKEW_SECONDS = 3600.0
RECONCILE_SECONDS = 5


async def _skewed_upsert(server: RedisServer, queue: str) -> None:
    """What a worker running 1 h ahead does to the scheduler's next job."""
    real = time.time
    producer = BullQueue(
        queue, {"connection": server.connection_kwargs("worker"), "prefix": "bull"}
    )
    try:
        await producer.removeJobScheduler(SCHEDULE)
        with mock.patch("time.time", lambda: real() + SKEW_SECONDS):
            await producer.upsertJobScheduler(
                SCHEDULE, {"every": EVERY_MS, "tz": "UTC"}, "tick", {}, {}
            )
    finally:
        await producer.close()


def test_it_should_repair_a_next_job_a_skewed_worker_pushed_an_hour_late(
    redis_server: RedisServer, queue_name: str, tmp_path: Path
) -> None:
    every = {"name": SCHEDULE, "queue": queue_name, "jobName": "tick", "everyMs": EVERY_MS}
    spec = drill_spec(queue_name, schedules=[every])
    client = admin(redis_server)
    repeat = f"bull:{queue_name}:repeat"
    (worker,) = start_workers(redis_server, spec, tmp_path, 1)
    (sched,) = schedulers(redis_server, spec, tmp_path, 1)
    try:
        assert wait_until(lambda: len(tick_times(client, queue_name, SCHEDULE)[0]) >= 2, 60)
        asyncio.run(_skewed_upsert(redis_server, queue_name))
        skewed_at = time.time()
        pushed_s = float(client.zscore(repeat, SCHEDULE) or 0) / 1000 - skewed_at

        def ticks_after() -> int:
            ticks = tick_times(client, queue_name, SCHEDULE)[0]
            return sum(1 for t in ticks if t / 1000 >= skewed_at)

        resumed = wait_until(lambda: ticks_after() >= 3, timeout=4 * RECONCILE_SECONDS + 20)
        ticks = tick_times(client, queue_name, SCHEDULE)[0]
        next_due_s = float(client.zscore(repeat, SCHEDULE) or 0) / 1000 - time.time()
        worker.probe("/readyz", timeout=5)  # refreshes the skew gauge
        worker_metrics = httpx.get(worker.url("/metrics"), timeout=5).text
        sched_metrics = httpx.get(sched.url("/metrics"), timeout=5).text
        codes = stop_all([worker, sched])
    finally:
        stop([worker, sched])
        client.close()
    after = sorted(t / 1000 for t in ticks if t / 1000 >= skewed_at)
    first_after = after[0] - skewed_at if after else None
    skew = [
        float(line.rsplit(" ", 1)[1])
        for line in worker_metrics.splitlines()
        if line.startswith("bullmq_worker_clock_skew_seconds{")
    ]
    repairs = [
        line
        for line in sched_metrics.splitlines()
        if "next job too late" in line and not line.startswith("#")
    ]
    figures = Figures(
        "schedule pushed 1 h late by a skewed clock",
        sent=len(set(ticks)),
        completed=len(set(ticks)),
        duplicated=len(ticks) - len(set(ticks)),
        lost=0,
        extra={
            "pushed_seconds": round(pushed_s),
            "first_tick_after_seconds": None if first_after is None else round(first_after, 1),
            "next_due_after_seconds": round(next_due_s, 1),
            "repairs": repairs,
            "worker_clock_skew_seconds": skew,
        },
    )
    figures.check()
    assert pushed_s > SKEW_SECONDS - 10, "the replayed skew did not push the next job"
    assert resumed, "no tick ran after the skewed clock pushed the next job"
    assert first_after is not None and first_after < 2 * RECONCILE_SECONDS + 10, first_after
    assert next_due_s < EVERY_MS / 1000 + 2, next_due_s
    assert repairs, sched_metrics
    assert skew and abs(skew[0]) < 1.0, skew
    assert all(code == 0 for code in codes.values()), codes

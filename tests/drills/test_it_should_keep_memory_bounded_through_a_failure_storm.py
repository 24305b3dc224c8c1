"""Drill (issue 25, item 3b): a failure storm cannot fill Redis.

100,000 jobs fail at once (attempts 1, a handler that raises): each becomes a
failed job and a DLQ entry carrying its payload. Failed jobs used to be kept
7 days with no count cap and DLQ entries 14 days, so memory grew with every
failure until noeviction stopped the platform. Now removeOnFail.count and
deadLetter.maxEntries cap both, and the spec checks that the caps fit in
maxmemory with the measured bytes per job (platform_spec/sizing.py).

The feeder adds jobs in pipelined bulks while keeping the backlog at most
BACKLOG (the storm is the failures, not a backlog), samples `used_memory` as it
goes, and the drill asserts the peak stays under a bound computed from the
sizing figures: retention at the caps + the backlog + the capped events
streams + what Redis held before. Every job failed exactly once (the workers'
own counters), none lost; failed and DLQ sizes end at their caps.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis
from bullmq import Queue as BullQueue
from drill_support import Figures, admin, counts, drill_spec, stop, wait_until
from drill_support import workers as start_workers

from local_stack.processes import PlatformProcess, stop_all
from local_stack.redis_server import RedisServer
from platform_spec.job_options import job_options
from platform_spec.keys import QueueKeys
from platform_spec.model import PlatformSpec
from platform_spec.sizing import job_bytes, retained_bytes

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]
JOBS = 100_000
BATCH = 1000
BACKLOG = 4000
PAD = 200
CAP = 2000
# An events stream is trimmed near BullMQ's maxLenEvents (10,000 entries of 100-250 B);
# this queue and its DLQ each have one.
EVENTS_ALLOWANCE = 2 * 10_000 * 300
TIMEOUT_SECONDS = 900


def _metric(workers: list[PlatformProcess], name: str) -> int:
    """Sum of a counter over every worker's /metrics (all label sets)."""
    total = 0.0
    for w in workers:
        text = httpx.get(w.url("/metrics"), timeout=10).text
        total += sum(float(v) for v in re.findall(rf"^{name}\{{[^}}]*\}} (\S+)$", text, re.M))
    return int(total)


def _sample(client: redis.Redis, peak: list[int]) -> None:
    """Raise the recorded peak to Redis's used memory now."""
    peak[0] = max(peak[0], int(client.info("memory")["used_memory"]))


async def _storm(
    server: RedisServer, spec: PlatformSpec, client: redis.Redis, peak: list[int]
) -> float:
    """Feed JOBS failing jobs in bulks, backlog <= BACKLOG, until all are taken; seconds."""
    queue = spec.queues[0].name
    producer = BullQueue(
        queue, {"connection": server.connection_kwargs("worker"), "prefix": spec.key_prefix}
    )
    opts = job_options(spec.queues[0])  # the spec's retention, as every producer sets it
    started = time.monotonic()
    sent = 0
    try:
        while time.monotonic() - started < TIMEOUT_SECONDS:
            _sample(client, peak)
            c = counts(client, queue)  # the spec's default priority puts jobs in `prioritized`
            waiting = c["wait"] + c["prioritized"] + c["active"] + c["delayed"]
            if sent >= JOBS and waiting == 0:
                return time.monotonic() - started
            if sent < JOBS and waiting < BACKLOG:
                size = min(BATCH, JOBS - sent)
                batch = [{"name": "boom", "data": {"pad": "p" * PAD}, "opts": opts}] * size
                await producer.addBulk(batch)
                sent += size
                if sent % 10_000 == 0:
                    print(f"  sent {sent:,} in {time.monotonic() - started:.0f}s")
            else:
                await asyncio.sleep(0.05)
        raise AssertionError(f"storm not done within {TIMEOUT_SECONDS}s (sent {sent})")
    finally:
        await producer.close()


def test_it_should_keep_memory_bounded_through_a_failure_storm(
    private_redis: Callable[..., RedisServer], queue_name: str, tmp_path: Path
) -> None:
    server = private_redis(maxmemory="128mb")
    spec = drill_spec(
        queue_name,
        jobs=[{"name": "work"}, {"name": "boom"}],
        concurrency=50,
        removeOnComplete={"count": CAP},
        removeOnFail={"count": CAP},
        deadLetter={"maxEntries": CAP},
        typicalPayloadBytes=PAD,
    )
    client = admin(server)
    before = int(client.info("memory")["used_memory"])
    bound = (
        before
        + sum(retained_bytes(spec.queues[0]).values())
        + BACKLOG * job_bytes("waiting", PAD)
        + EVENTS_ALLOWANCE
    )
    peak = [before]
    workers = start_workers(server, spec, tmp_path, 2, engine="fast")
    try:
        seconds = asyncio.run(_storm(server, spec, client, peak))

        def all_dead_lettered() -> bool:
            _sample(client, peak)
            return _metric(workers, "bullmq_jobs_dead_lettered_total") >= JOBS

        # The storm ends when no job is left to run, but dead letters are written in
        # batches behind the failures (workers/dlq_writer.py): one run read the counter
        # 965 short. Wait for the last batch, sampling memory as it lands.
        wait_until(all_dead_lettered, timeout=120)
        failed_runs = _metric(workers, "bullmq_jobs_failed_total")
        dead_lettered = _metric(workers, "bullmq_jobs_dead_lettered_total")
        left = counts(client, queue_name)
        dlq_wait = int(client.llen(QueueKeys(spec.key_prefix, spec.queues[0].dlq_name).wait))
        codes = stop_all(workers)
    finally:
        stop(workers)
        client.close()
    figures = Figures(
        "failure storm",
        sent=JOBS,
        completed=failed_runs,  # every job's one run ends failed
        duplicated=max(0, failed_runs - JOBS),
        lost=max(0, JOBS - failed_runs),
        extra={
            "seconds": round(seconds, 1),
            "jobs_per_second": round(JOBS / seconds),
            "dead_lettered": dead_lettered,
            "failed_kept": left["failed"],
            "dlq_entries": dlq_wait,
            "used_before_mb": round(before / 2**20, 1),
            "peak_used_mb": round(peak[0] / 2**20, 1),
            "bound_mb": round(bound / 2**20, 1),
            "uncapped_estimate_mb": round(
                JOBS * (job_bytes("failed", PAD) + job_bytes("dlq", PAD)) / 2**20
            ),
        },
    )
    figures.check()
    assert failed_runs == JOBS and dead_lettered == JOBS
    assert left["failed"] <= CAP and dlq_wait <= CAP + CAP // 100 + 1
    assert peak[0] <= bound, figures.report()
    assert all(code == 0 for code in codes.values()), codes

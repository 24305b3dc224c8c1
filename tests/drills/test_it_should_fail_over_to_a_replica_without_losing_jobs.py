"""Sentinel drills: kill -9 the primary while 5,000 jobs stream in and out.

Three redis-servers and three Sentinels run the chart's config (redis.mode
sentinel; local_stack/sentinel_cluster.py) on 127.0.0.1, TLS and ACL. Two
workers (fast engine and stock engine) follow the primary through the Sentinels.
A producer streams 5,000 jobs with known ids, retrying an add that failed under
the same id (BullMQ deduplicates ids). Once the stream is under way the primary
gets SIGKILL. Printed: seconds without a writable primary, enqueues/s,
completed, duplicated, lost (acknowledged but never run), stuck in `active`.

With `waitReplicas` 1 every acknowledged add was on a replica before it counted,
so none may be lost. Without WAIT, asynchronous replication may lose the last
adds the old primary acknowledged: the count is printed, not asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from bullmq import Queue as BullQueue
from drill_support import (
    Figures,
    assert_one_job_per_tick,
    counts,
    drill_spec,
    runs,
    schedulers,
    stop,
    tick_times,
    wait_until,
    work_runs,
    workers,
)

from local_stack.redis_server import RedisServer
from local_stack.sentinel_cluster import SentinelCluster, sentinel_spec
from platform_spec.settings import RedisSettings
from workers.connection import connect
from workers.replication_ack import NotReplicated, wait_replicas

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]
JOBS = 5000
KILL_AFTER_ACKS = 1000
WAIT_TIMEOUT_MS = 1000
# Goal: writable again within 10 s of the kill; the assert is generous (a loaded CI).
UNWRITABLE_BOUND_SECONDS = 60.0
FAILOVER_LOCKS = {"BULLMQ_PLATFORM_WORKER_LOCK_DURATION_MS": "10000"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    sentinels = SentinelCluster(tmp_path / "redis", spec=sentinel_spec())
    sentinels.start()
    try:
        yield sentinels
    finally:
        sentinels.stop()


def admin_of(node: RedisServer) -> redis.Redis:
    return redis.Redis(**node.connection_kwargs("admin"), decode_responses=True, socket_timeout=5)


def settings(cluster: SentinelCluster) -> RedisSettings:
    env = cluster.env("worker")
    return RedisSettings(
        password_file=Path(env["BULLMQ_PLATFORM_REDIS_PASSWORD_FILE"]),
        username="worker",
        ca_file=Path(env["BULLMQ_PLATFORM_REDIS_CA_FILE"]),
        sentinel_hosts=env["BULLMQ_PLATFORM_REDIS_SENTINEL_HOSTS"],
        sentinel_master=cluster.master_name,
        sentinel_username="worker",
        sentinel_password_file=Path(env["BULLMQ_PLATFORM_REDIS_SENTINEL_PASSWORD_FILE"]),
        connect_timeout_seconds=2,
    )


class Stream:
    """Producer state: acknowledged ids, failed attempts, and the unwritable window."""

    def __init__(self) -> None:
        self.acked: list[str] = []
        self.failures = 0
        self.killed_at = 0.0
        self.writable_again_at = 0.0
        self.started = time.monotonic()
        self.finished = 0.0


async def produce(
    cluster: SentinelCluster, queue: str, wait: int, stream: Stream, kill: bool = True
) -> None:
    """Add JOBS jobs one by one (WAIT after each when `wait`); kill the primary midway."""
    kwargs = settings(cluster).redis_kwargs()
    client = connect(kwargs, decode_responses=True, single_connection_client=True)
    producer = BullQueue(queue, {"connection": client, "prefix": "bull"})
    try:
        for n in range(JOBS):
            while True:
                try:
                    await asyncio.wait_for(
                        producer.add("work", {"seconds": 0}, {"jobId": f"j{n}"}), 10
                    )
                    await wait_replicas(client, wait, WAIT_TIMEOUT_MS)
                    break
                except (redis.RedisError, OSError, TimeoutError, NotReplicated):
                    stream.failures += 1
                    with contextlib.suppress(Exception):
                        await client.connection_pool.disconnect()
                    await asyncio.sleep(0.05)  # a producer's retry pause, not a test wait
            stream.acked.append(f"j{n}")
            if stream.killed_at and not stream.writable_again_at:
                stream.writable_again_at = time.monotonic()
            if kill and len(stream.acked) == KILL_AFTER_ACKS:
                await asyncio.to_thread(cluster.kill_primary)
                stream.killed_at = time.monotonic()
        stream.finished = time.monotonic()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.close(), 10)


@pytest.mark.parametrize("wait", [1, 0], ids=["waitReplicas=1", "no-WAIT"])
def test_it_should_fail_over_when_the_primary_is_killed_while_jobs_stream(
    cluster: SentinelCluster, queue_name: str, tmp_path: Path, wait: int
) -> None:
    first_primary = cluster.primary()
    # Retries as production queues have them: a job whose own Redis call met the dead
    # primary (a connection error in the handler or the finish) is retried, not failed for
    # good (with attempts 1 one such job left the drill waiting out pytest's timeout).
    spec = drill_spec(queue_name, attempts=5)
    extra = {**cluster.sentinel_env(), **FAILOVER_LOCKS}
    procs = workers(first_primary, spec, tmp_path, 1, extra_env=extra, engine="fast")
    procs += workers(first_primary, spec, tmp_path / "stock", 1, extra_env=extra, engine="stock")
    pids = [p.pid for p in procs]
    stream = Stream()
    try:
        asyncio.run(produce(cluster, queue_name, wait, stream))
        new_primary = cluster.primary()
        client = admin_of(new_primary)
        acked = set(stream.acked)
        # under pytest's 300 s timeout, so a miss fails this test instead of the whole run
        done = wait_until(lambda: acked <= runs(client, queue_name).done, timeout=200)
        settled = wait_until(lambda: counts(client, queue_name)["active"] == 0, timeout=60)
        seen = work_runs(runs(client, queue_name))
        left = counts(client, queue_name)
        same_processes = [p.pid for p in procs] == pids and all(p.running for p in procs)
        client.close()
    finally:
        stop(procs)
    unwritable = stream.writable_again_at - stream.killed_at
    rate = len(stream.acked) / max(stream.finished - stream.started - unwritable, 1e-6)
    lost = len(acked - seen.done)
    figures = Figures(
        f"Sentinel failover, kill -9 primary, waitReplicas={wait}",
        sent=JOBS,
        completed=len(acked & seen.done),
        duplicated=seen.duplicated,
        lost=lost,
        extra={
            "stuck_active": left["active"],
            "seconds_unwritable": round(unwritable, 2),
            "enqueues_per_second": round(rate),
            "failed_attempts": stream.failures,
            "old_primary_port": first_primary.port,
            "new_primary_port": new_primary.port,
            "processes_kept": same_processes,
        },
    )
    print(figures.report())
    assert new_primary.port != first_primary.port, "Sentinel did not promote a replica"
    assert stream.writable_again_at > 0, "the producer never wrote again after the kill"
    assert unwritable < UNWRITABLE_BOUND_SECONDS, figures.report()
    assert settled and left["active"] == 0, f"jobs stuck in active: {figures.report()}"
    assert same_processes, "a worker exited instead of following the new primary"
    if wait:
        assert done and lost == 0, figures.report()


def test_it_should_run_one_job_per_tick_across_a_failover(
    cluster: SentinelCluster, queue_name: str, tmp_path: Path
) -> None:
    """Three schedulers and a worker follow the primary; an every-second schedule
    keeps ticking across the kill with one job scheduler, no tick lost once the new
    primary takes writes (a tick skipped while none did is counted), and at most one
    tick run twice (printed; see the note below)."""
    cron = {"name": "drill-tick", "queue": queue_name, "jobName": "tick", "cron": "* * * * * *"}
    spec = drill_spec(queue_name, schedules=[cron])
    primary = cluster.primary()
    env = cluster.sentinel_env()
    # Locks outlast the failover and the new primary's NOREPLICAS spell (the killed-worker
    # drills' 2 s locks would expire in it and re-run jobs that were never lost).
    procs = workers(primary, spec, tmp_path, 1, extra_env={**env, **FAILOVER_LOCKS})
    procs += schedulers(primary, spec, tmp_path, 3, extra_env=env)
    started = time.monotonic()
    try:
        client = admin_of(primary)
        assert wait_until(lambda: len(tick_times(client, queue_name, "drill-tick")[0]) >= 3, 60)
        client.close()
        cluster.kill_primary()
        killed_ms = int(time.time() * 1000)
        client = admin_of(wait_for_new_primary(cluster, primary))
        # Ticks due while no primary answered run late or not at all (BullMQ computes
        # the next tick when it runs one, and never back-fills): checked from here on.
        steady_ms = int(time.time() * 1000) + 2000

        def after() -> int:
            ticks = tick_times(client, queue_name, "drill-tick")[0]
            return sum(1 for t in ticks if t >= steady_ms)

        ticking = wait_until(lambda: after() >= 5, timeout=90)
        kept = all(p.running for p in procs)
        ticks, ran_at = tick_times(client, queue_name, "drill-tick")
        registered = int(client.zcard(f"bull:{queue_name}:repeat"))
        # How often BullMQ started each tick twice-recorded tick (moveToActive counts `ats`).
        starts = {
            t: int(client.hget(f"bull:{queue_name}:repeat:drill-tick:{t}", "ats") or 0)
            for t in {t for t in ticks if ticks.count(t) > 1}
        }
        history = rerun_history(client, queue_name, [t for t, n in starts.items() if n > 1])
        client.close()
    finally:
        stop(procs)
    # A tick's job has one id, so it is enqueued once; a tick that was running when the
    # primary died may run again if its completion had not reached the replica (at least
    # once, like any job in flight at the kill). Every other tick runs exactly once.
    # The handler's record (MULTI: SADD + HINCRBY) can count twice although BullMQ ran
    # the job once: Sentinel kills the clients of a node it reconfigures, and redis-py
    # re-sends a MULTI whose reply was lost. BullMQ's own start count tells them apart.
    reruns = sorted(t for t, n in starts.items() if n > 1)
    double_records = sorted(t for t, n in starts.items() if n <= 1)
    in_flight = [t for t in reruns if killed_ms - 3000 <= t <= killed_ms]
    shape = assert_one_job_per_tick(sorted(set(ticks)), ran_at=ran_at, since_ms=steady_ms)
    window = sorted(t for t in set(ticks) if t < steady_ms)
    missed = (window[-1] - window[0]) // 1000 + 1 - len(window) if window else 0
    figures = Figures(
        "Sentinel failover under 3 schedulers, every-second schedule",
        sent=len(set(ticks)),
        completed=len(set(ticks)),
        duplicated=len(reruns),
        lost=shape["gaps"],
        extra={
            "reruns_of_ticks_in_flight_at_the_kill": len(in_flight),
            "handler_records_sent_twice_by_the_client": len(double_records),
            "ticks_skipped_during_failover": missed,
            "late_worker_gaps": shape["late_worker_gaps"],
            "schedulers_in_redis": registered,
            "kept": kept,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    print(figures.report())
    if history:
        print(history)
    assert figures.lost == 0, figures.report()
    # One job per tick: a tick runs twice only when it was in flight at the kill (its
    # completion lost with the old primary, like any job in flight). Before the fix one
    # run in three or so ran a tick due just after the failover twice: the scheduler's
    # repair ("next job missing") re-registered the schedule with a next fire computed
    # before a worker ran that tick, and bullmq queued the finished job again
    # (workers/next_tick.py; tests/scheduler/
    # test_it_should_not_queue_a_run_tick_again_when_a_repair_races_a_worker.py).
    assert not set(reruns) - set(in_flight), f"a tick ran twice: {figures.report()}"
    assert len(in_flight) <= 1, figures.report()
    assert ticking and kept, figures.report()
    assert registered == 1, "one job scheduler per schedule across the failover"


def wait_for_new_primary(cluster: SentinelCluster, old: RedisServer) -> RedisServer:
    assert wait_until(lambda: cluster.primary_port() not in (None, old.port), timeout=60)
    return cluster.primary()


def rerun_history(client: redis.Redis, queue: str, ticks: list[int]) -> str:
    """The queue's events about ticks BullMQ started twice (how the second start came)."""
    ids = {f"repeat:drill-tick:{t}" for t in ticks}
    if not ids:
        return ""
    lines = [
        f"{entry_id} {fields}"
        for entry_id, fields in client.xrange(f"bull:{queue}:events")
        if fields.get("jobId") in ids
    ]
    return "\n".join(lines)

"""Drill: a worker SIGKILLed with dead letters still in memory loses none of them.

A job's final failure moves it to `failed` at once, but its DLQ entry waits in
the worker's memory for the DeadLetterWriter's next batch; a SIGKILL in between
used to lose the entry for good (and the job, once removeOnFail's count pushed
it out of `failed`). The drill holds the entries in memory deterministically:
the `worker` ACL user loses access to the DLQ's keys (ACL SETUSER, as an admin
would), so every DLQ write is refused (NOPERM) and retried while the jobs fail
normally. Once all JOBS jobs are in `failed` and the DLQ is still empty, the
worker is SIGKILLed, the ACL restored, and a new worker started: every failed
job must end with exactly one DLQ entry (workers/dlq_reconcile.py), on both
engines.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import redis
from bullmq import Queue as BullQueue
from drill_support import Figures, admin, counts, drill_spec, stop, wait_until
from drill_support import workers as start_workers

from local_stack.redis_server import RedisServer
from platform_spec.keys import QueueKeys
from platform_spec.model import PlatformSpec
from workers.dlq import entry_id

pytestmark = [pytest.mark.redis, pytest.mark.drill, pytest.mark.slow]
JOBS = 2000
KEEP = 10_000  # failed jobs and DLQ entries kept: above JOBS, so the caps cut nothing


async def _fail_jobs(server: RedisServer, spec: PlatformSpec) -> list[str]:
    """Add JOBS `boom` jobs (the handler raises; attempts 1); their ids."""
    q = spec.queues[0]
    producer = BullQueue(
        q.name, {"connection": server.connection_kwargs("worker"), "prefix": spec.key_prefix}
    )
    try:
        ids: list[str] = []
        for start in range(0, JOBS, 500):
            batch = [
                {"name": "boom", "data": {"seconds": 0}, "opts": {"jobId": f"j{n}", "attempts": 1}}
                for n in range(start, min(start + 500, JOBS))
            ]
            ids += [str(job.id) for job in await producer.addBulk(batch)]
        return ids
    finally:
        await producer.close()


def _dlq_entries(client: redis.Redis, spec: PlatformSpec) -> list[str]:
    """Original job id of every DLQ entry (one per entry, so repeats show)."""
    q = spec.queues[0]
    dlq = QueueKeys(spec.key_prefix, q.dlq_name)
    ids = client.lrange(dlq.wait, 0, -1)
    pipe = client.pipeline(transaction=False)
    for i in ids:
        pipe.hget(dlq.job(i), "data")
    return [json.loads(raw)["jobId"] for raw in pipe.execute() if raw]


@pytest.mark.parametrize("engine", ["fast", "stock"])
def test_it_should_dead_letter_every_failure_through_a_worker_kill(
    redis_server: RedisServer, queue_name: str, tmp_path: Path, engine: str
) -> None:
    spec = drill_spec(
        queue_name,
        jobs=[{"name": "work"}, {"name": "boom"}],
        concurrency=50,
        removeOnFail={"count": KEEP},
        deadLetter={"maxEntries": KEEP},
    )
    q = spec.queues[0]
    client = admin(redis_server)
    source, dlq = QueueKeys(spec.key_prefix, q.name), QueueKeys(spec.key_prefix, q.dlq_name)
    acl = client.acl_getuser("worker")
    original_keys = acl["keys"] if isinstance(acl["keys"], list) else str(acl["keys"]).split()
    procs = start_workers(redis_server, spec, tmp_path, 1, engine=engine)
    worker = procs[0]
    started = time.monotonic()
    try:
        # The worker may reach its own queue and the platform's records, not the DLQ.
        client.execute_command(
            "ACL",
            "SETUSER",
            "worker",
            "resetkeys",
            f"~{source.pattern}",
            f"~{spec.key_prefix}:_platform:*",
        )
        ids = asyncio.run(_fail_jobs(redis_server, spec))
        all_failed = wait_until(lambda: counts(client, q.name)["failed"] >= JOBS, timeout=180)
        pending = JOBS - int(client.llen(dlq.wait))  # entries held in the worker's memory
        worker.kill()
        client.execute_command("ACL", "SETUSER", "worker", "resetkeys", *original_keys)
        failed_before_restart = counts(client, q.name)["failed"]
        worker.start()

        def every_entry() -> bool:
            return int(client.llen(dlq.wait)) >= failed_before_restart

        wait_until(every_entry, timeout=120, pause=0.25)
        entries = _dlq_entries(client, spec)
        failed_ids = set(client.zrange(source.failed, 0, -1))
        present = {i for i in failed_ids if client.exists(dlq.job(entry_id(q.name, i)))}
        sample = client.hget(dlq.job(entry_id(q.name, ids[0])), "data")
    finally:
        client.execute_command("ACL", "SETUSER", "worker", "resetkeys", *original_keys)
        stop(procs)
        client.close()
    duplicated = len(entries) - len(set(entries))
    missing = len(failed_ids - present)
    figures = Figures(
        f"DLQ through a worker SIGKILL ({engine})",
        sent=JOBS,
        completed=0,
        duplicated=duplicated,
        lost=missing + (JOBS - len(failed_ids)),
        extra={
            "failed": len(failed_ids),
            "pending_at_kill": pending,
            "dead_lettered": len(set(entries)),
            "missing": missing,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    figures.check()
    assert all_failed, f"only {failed_before_restart} of {JOBS} jobs failed"
    assert pending > 0, "no dead letter was pending at the kill: the drill proved nothing"
    assert duplicated == 0, figures.report()
    assert set(entries) == failed_ids == set(ids), figures.report()
    assert sample is not None and "boom" in json.loads(sample)["error"], sample

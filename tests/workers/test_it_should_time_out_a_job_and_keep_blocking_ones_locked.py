"""Job timeout cancels the handler and fails the job; a blocking handler runs in
a thread, so its lock keeps being renewed and it is never seen as stalled."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis
from conftest import dead_letter, get_job, make_spec, producer, running_worker, wait_finished

from local_stack.redis_server import RedisServer
from platform_spec.keys import QueueKeys
from workers.dlq import entry_id

pytestmark = pytest.mark.redis


def test_it_should_fail_a_job_that_outlives_its_timeout(
    redis_server: RedisServer, queue_name: str
) -> None:
    spec = make_spec(queue_name, jobTimeoutSeconds=1)

    async def scenario() -> None:
        async with (
            running_worker(redis_server, spec) as rt,
            producer(redis_server, queue_name) as q,
            producer(redis_server, spec.queues[0].dlq_name) as dlq,
        ):
            job = await q.add("sleep", {"seconds": 30})
            assert await wait_finished(q, job.id) == "failed"
            failed = await get_job(q, job.id)
            assert "timed out after 1s" in failed.failedReason
            assert (await dead_letter(dlq, entry_id(queue_name, job.id))) is not None
            assert rt.engine is not None and rt.engine.active == 0
            text = rt.metrics.render().decode()
            assert 'reason="timeout"' in text

    asyncio.run(scenario())


@pytest.mark.slow
def test_it_should_renew_locks_of_a_blocking_handler(
    redis_server: RedisServer, admin_client: redis.Redis, queue_name: str
) -> None:
    """The job sleeps 3 s in a thread with a 2 s lock and a 1 s stall check. An
    observer outside the event loop samples the lock's TTL: had the handler
    blocked the loop, the lock would lapse at 2 s. It never does, and the job
    completes on its first attempt, never moved back as stalled."""
    spec = make_spec(queue_name, attempts=3)
    samples: list[int] = []

    def observe(lock_key: str) -> None:
        for _ in range(40):  # bounded: at most 40 samples
            ttl = admin_client.pttl(lock_key)
            if ttl == -2 and samples:
                return  # lock released: the job finished
            if ttl != -2:
                samples.append(int(ttl))
            time.sleep(0.1)

    async def scenario() -> None:
        async with running_worker(redis_server, spec), producer(redis_server, queue_name) as q:
            job = await q.add("block", {"seconds": 3})
            lock_key = QueueKeys("bull", queue_name).job(job.id) + ":lock"
            observer = threading.Thread(target=observe, args=(lock_key,))
            observer.start()
            assert await wait_finished(q, job.id, attempts=200) == "completed"
            await asyncio.to_thread(observer.join, 10)
            assert len(samples) >= 20, f"lock seen only {len(samples)} times"
            assert min(samples) > 0
            done = await get_job(q, job.id)
            assert done.attemptsMade == 1
            assert done.stalledCounter == 0
            assert done.returnvalue == {"blocked": 3}

    asyncio.run(scenario())

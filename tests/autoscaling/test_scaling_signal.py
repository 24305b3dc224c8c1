"""The metrics-api scaling signal on the real TLS Redis: each BullMQ state, staged with bullmq.

Each test stages a queue with the Python bullmq library, reads it with the
signal's one Lua script as the `scheduler` ACL user (the identity of the
endpoint KEDA calls), and evaluates the metric the way the rendered
ScaledObject makes KEDA + HPA do: metricType AverageValue, targetValue 1,
activationTargetValue 0, ceil, the 10 % tolerance and the min/max clamp
(`keda_hpa_replicas`). The plain `redis`-trigger number is shown next to it
where it differs, to pin that mode's limits.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
import redis
import redis.asyncio as aioredis
from bullmq import Queue, Worker

from autoscaling.hpa import keda_hpa_replicas
from autoscaling.signal import (
    Decision,
    QueueState,
    ScalingPolicy,
    desired_replicas,
    plain_redis_metric,
    read_state,
    scaling_response,
)
from local_stack.redis_server import RedisServer
from platform_spec.keys import QueueKeys
from platform_spec.model import PlatformSpec

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

T = TypeVar("T")
POLICY = ScalingPolicy(concurrency=10, target_per_replica=10, max_replicas=20)


def run(coro: Awaitable[T]) -> T:
    """Run on a private loop: asyncio.run() would unset the thread's loop for later tests."""

    async def main() -> T:
        return await coro

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


@asynccontextmanager
async def bullmq(server: RedisServer, name: str) -> AsyncIterator[tuple[Queue, Worker]]:
    """A bullmq Queue and a Worker that never runs by itself (jobs are moved by hand)."""
    opts: dict[str, Any] = {"connection": server.connection_kwargs("worker"), "prefix": "bull"}

    async def never(job: Any, token: str) -> None:  # pragma: no cover - autorun is off
        raise AssertionError("the staged worker must not process jobs")

    queue = Queue(name, opts)
    worker = Worker(name, never, {**opts, "autorun": False})
    try:
        yield queue, worker
    finally:
        await worker.close(force=True)
        await queue.close()


async def activate(worker: Worker, count: int) -> list[Any]:
    """Move up to `count` jobs to active as a worker's fetch does (BullMQ's moveToActive)."""
    jobs = []
    for _ in range(count):
        job = await worker.moveToActive(uuid.uuid4().hex)
        if job is None:
            break
        jobs.append(job)
    return jobs


async def read(
    server: RedisServer,
    name: str,
    *,
    later_ms: int = 0,
    prefix: str = "bull",
    role: str = "scheduler",
) -> QueueState:
    client = aioredis.Redis(**server.connection_kwargs(role), decode_responses=True)
    try:
        now = int(time.time() * 1000) + later_ms
        return await read_state(client, QueueKeys(prefix, name), now_ms=now)
    finally:
        await client.aclose()


def replicas(decision: Decision, *, current: int, min_replicas: int = 0, max_r: int = 20) -> int:
    """What KEDA + HPA do with the served metric (targetValue 1, activation 0)."""
    return keda_hpa_replicas(
        decision.replicas,
        target=1,
        current=current,
        min_replicas=min_replicas,
        max_replicas=max_r,
    )


def redis_mode(state: QueueState, *, current: int, max_r: int = 20) -> int:
    """What the plain redis-trigger ScaledObject does (target = concurrency 10)."""
    return keda_hpa_replicas(
        plain_redis_metric(state), target=10, current=current, min_replicas=0, max_replicas=max_r
    )


async def add(queue: Queue, count: int, **opts: Any) -> None:
    for i in range(count):
        await queue.add("job", {"i": i}, opts)


def test_it_should_keep_the_pods_of_a_busy_but_empty_queue(
    redis_server: RedisServer, queue_name: str
) -> None:
    async def stage() -> QueueState:
        async with bullmq(redis_server, queue_name) as (queue, worker):
            await add(queue, 40)
            assert len(await activate(worker, 40)) == 40
            return await read(redis_server, queue_name)

    state = run(stage())
    assert (state.wait, state.prioritized, state.active) == (0, 0, 40)
    decision = desired_replicas(state, POLICY)
    assert decision.replicas == 4
    assert replicas(decision, current=4) == 4  # none of the four busy pods is scaled in
    assert replicas(decision, current=6) == 4  # extra idle pods go
    assert redis_mode(state, current=4) == 4  # the redis mode keeps them too (active counted)


def test_it_should_not_scale_up_a_paused_queue_whatever_waits(
    redis_server: RedisServer, queue_name: str
) -> None:
    async def stage() -> tuple[QueueState, QueueState]:
        async with bullmq(redis_server, queue_name) as (queue, worker):
            await add(queue, 3)
            await activate(worker, 3)
            await queue.pause()
            await add(queue, 40, priority=2)
            await add(queue, 40)
            assert await activate(worker, 1) == []  # BullMQ itself starts nothing now
            busy = await read(redis_server, queue_name)
            for job in await queue.getJobs(["active"]):
                await job.moveToFailed(Exception("staged"), job.token or "0", fetchNext=False)
            return busy, await read(redis_server, queue_name)

    busy, idle = run(stage())
    assert busy.paused and (busy.wait, busy.prioritized, busy.active) == (40, 40, 3)
    assert replicas(desired_replicas(busy, POLICY), current=1) == 1  # the busy pod stays
    assert replicas(desired_replicas(busy, POLICY), current=5) == 1
    assert replicas(desired_replicas(idle, POLICY), current=0) == 0  # stays at zero
    assert redis_mode(busy, current=1) == 9  # the plain redis mode: 9 idle pods


def test_it_should_never_ask_for_more_pods_than_the_global_concurrency_can_use(
    redis_server: RedisServer, queue_name: str
) -> None:
    async def stage() -> QueueState:
        async with bullmq(redis_server, queue_name) as (queue, worker):
            await queue.setGlobalConcurrency(15)
            await add(queue, 200)
            assert len(await activate(worker, 50)) == 15  # BullMQ stops at the cap
            return await read(redis_server, queue_name)

    state = run(stage())
    assert (state.concurrency, state.wait, state.active) == (15, 185, 15)
    decision = desired_replicas(state, POLICY)
    assert decision.work == 20 and decision.cap == 2
    assert replicas(decision, current=2) == 2
    assert replicas(decision, current=1) == 2
    assert redis_mode(state, current=2) == 20


def test_it_should_never_ask_for_more_pods_than_the_rate_limit_keeps_busy(
    redis_server: RedisServer, admin_client: redis.Redis, queue_name: str
) -> None:
    """max 5 jobs per 60 s window: 5 slots, or 15 when jobs run 150 s (3 windows overlap)."""

    async def stage() -> tuple[QueueState, QueueState, QueueState]:
        async with bullmq(redis_server, queue_name) as (queue, worker):
            await queue.setGlobalRateLimit(5, 60_000)
            await add(queue, 100)
            started = await activate(worker, 20)
            assert len(started) == 5  # the limiter key stops BullMQ after 5 in the window
            fresh = await read(redis_server, queue_name)
            # Two jobs finish; their hashes say they ran 150 s each.
            keys = QueueKeys("bull", queue_name)
            for job in started[:2]:
                await job.moveToCompleted("ok", job.token, fetchNext=False)
                admin_client.hset(
                    keys.job(job.id), mapping={"processedOn": 1_000_000, "finishedOn": 1_150_000}
                )
            slow = await read(redis_server, queue_name)
            await queue.rateLimit(600_000)  # Queue.rateLimit: nothing starts for 10 minutes
            return fresh, slow, await read(redis_server, queue_name)

    fresh, slow, held = run(stage())
    assert (fresh.rate_max, fresh.rate_duration_ms, fresh.limiter_count) == (5, 60_000, 5)
    assert fresh.rate_limited_ms > 0
    assert desired_replicas(fresh, POLICY).work == 10
    assert replicas(desired_replicas(fresh, POLICY), current=1) == 1  # 5 slots: one pod
    assert slow.job_seconds == 150
    assert replicas(desired_replicas(slow, POLICY), current=1) == 2  # 15 slots: two pods
    assert held.rate_limited_ms > 60_000
    assert replicas(desired_replicas(held, POLICY), current=3) == 1  # the busy pod only
    assert redis_mode(held, current=3) == 10


def test_it_should_wake_a_queue_at_zero_for_delayed_jobs_due_soon(
    redis_server: RedisServer, queue_name: str
) -> None:
    async def stage() -> tuple[QueueState, QueueState, QueueState]:
        async with bullmq(redis_server, queue_name) as (queue, _worker):
            await queue.add("retry", {}, {"delay": 3_600_000})  # due in an hour
            far = await read(redis_server, queue_name)
            await queue.add("retry", {}, {"delay": 20_000})  # due in 20 s
            soon = await read(redis_server, queue_name)
            due = await read(redis_server, queue_name, later_ms=25_000)  # read 25 s later
            return far, soon, due

    far, soon, due = run(stage())
    assert (far.delayed, far.delayed_soon) == (1, 0)
    assert replicas(desired_replicas(far, POLICY), current=0) == 0
    assert (soon.delayed, soon.delayed_soon, soon.delayed_due) == (2, 1, 0)
    assert replicas(desired_replicas(soon, POLICY), current=0) == 1
    assert due.delayed_due == 1 and desired_replicas(due, POLICY).work == 1
    assert replicas(desired_replicas(due, POLICY), current=0) == 1
    # No wake-up when the queue does not ask for it (it then keeps minReplicas >= 1).
    asleep = ScalingPolicy(concurrency=10, target_per_replica=10, max_replicas=20,
                           wake_on_delayed=False)  # fmt: skip
    assert replicas(desired_replicas(soon, asleep), current=0) == 0


def test_it_should_add_pods_when_the_oldest_waiting_job_is_older_than_the_target(
    redis_server: RedisServer, queue_name: str
) -> None:
    async def stage() -> tuple[QueueState, QueueState]:
        async with bullmq(redis_server, queue_name) as (queue, worker):
            await add(queue, 40)
            await activate(worker, 10)
            now = await read(redis_server, queue_name)
            return now, await read(redis_server, queue_name, later_ms=270_000)

    now, later = run(stage())
    policy = ScalingPolicy(
        concurrency=10, target_per_replica=10, max_replicas=20, latency_target_seconds=60
    )
    assert desired_replicas(now, policy).latency == 0
    assert replicas(desired_replicas(now, policy), current=4) == 4  # backlog: 40 / 10
    assert 270 <= later.oldest_wait_seconds < 299
    decision = desired_replicas(later, policy)
    assert decision.latency == 5  # 1 busy pod * 270 s / 60 s
    assert replicas(decision, current=4) == 5
    assert replicas(desired_replicas(later, POLICY), current=4) == 4  # trigger off: backlog only


def spec_for(name: str, prefix: str = "bull") -> PlatformSpec:
    return PlatformSpec.model_validate(
        {
            "keyPrefix": prefix,
            "queues": [{"name": name, "handler": "workers.handlers.notifications"}],
            "schedules": [],
            "maintenanceQueue": name,
        }
    )


def test_it_should_serve_desired_replicas_for_keda_and_fail_on_a_wrong_prefix(
    redis_server: RedisServer, queue_name: str
) -> None:
    """A wrong prefix must not read as an empty queue: the endpoint fails, KEDA falls back."""

    async def respond(prefix: str, role: str) -> tuple[int, dict[str, Any]]:
        client = aioredis.Redis(**redis_server.connection_kwargs(role), decode_responses=True)
        try:
            return await scaling_response(client, spec_for(queue_name, prefix), queue_name)
        finally:
            await client.aclose()

    async def stage() -> dict[str, tuple[int, dict[str, Any]]]:
        async with bullmq(redis_server, queue_name) as (queue, _worker):
            await add(queue, 25)
            return {
                "right": await respond("bull", "scheduler"),
                "wrong": await respond("bull-typo", "admin"),
                "outside-acl": await respond("bull-typo", "scheduler"),
            }

    answers = run(stage())
    status, body = answers["right"]
    assert status == 200 and body["desiredReplicas"] == 3  # 25 jobs / concurrency 10
    assert body["state"]["wait"] == 25
    assert answers["wrong"][0] == 503 and "keyPrefix" in answers["wrong"][1]["error"]
    assert answers["outside-acl"][0] == 503  # the scheduler's ACL refuses other prefixes
    wrong = run(read(redis_server, queue_name, prefix="bull-typo", role="admin"))
    assert plain_redis_metric(wrong) == 0  # what the plain redis mode would silently see


def test_it_should_answer_404_for_a_queue_not_in_the_spec(
    redis_server: RedisServer, queue_name: str
) -> None:
    async def respond() -> tuple[int, dict[str, Any]]:
        client = aioredis.Redis(**redis_server.connection_kwargs("scheduler"))
        try:
            return await scaling_response(client, spec_for(queue_name), "not-a-queue")
        finally:
            await client.aclose()

    assert run(respond())[0] == 404

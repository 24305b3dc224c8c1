"""The rendered ScaledObject, evaluated like KEDA on a real Redis, asks for the right replicas.

Jobs are staged with the Python bullmq library as the `worker` ACL user; KEDA's
length script runs as the `keda` user. A queue's work is waiting + prioritized +
active, plus one pod while delayed jobs exist (only a running worker promotes them).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis
from bullmq import Queue, Worker
from keda_eval import desired_replicas, trigger_values

from local_stack.redis_server import RedisServer
from platform_spec import chart
from platform_spec.keys import QueueKeys
from platform_spec.model import PlatformSpec
from platform_spec.values import chart_values

pytestmark = [pytest.mark.redis, pytest.mark.helm]
CONCURRENCY = 2
HOUR_MS = 3_600_000


def _scaled_object(queue: str, *, prefix: str = "bull") -> dict[str, Any]:
    spec = PlatformSpec.model_validate(
        {
            "keyPrefix": prefix,
            "queues": [
                {
                    "name": queue,
                    "handler": "workers.handlers.notifications",
                    "concurrency": CONCURRENCY,
                    "autoscaling": {"minReplicas": 0, "maxReplicas": 10},
                }
            ],
            "schedules": [],
            "maintenanceQueue": queue,
            # The plain redis-trigger mode; metricsApi is tested in tests/autoscaling.
            "keda": {"scaler": "redis"},
        }
    )
    docs = chart.objects(chart.template(chart_values(spec, auth_secret="a", tls_secret="t")))
    return chart.find(docs, "ScaledObject", f"bullmq-platform-worker-{queue}")


@pytest.fixture
def keda_client(role_client: Callable[[str], redis.Redis]) -> redis.Redis:
    return role_client("keda")


@contextlib.asynccontextmanager
async def _busy_worker(queue_name: str, conn: dict[str, Any]) -> AsyncIterator[None]:
    """A bullmq Worker holding CONCURRENCY jobs active until the block exits."""
    release = asyncio.Event()

    async def hold(job: Any, token: str) -> None:
        await release.wait()

    worker = Worker(queue_name, hold, {"connection": conn, "concurrency": CONCURRENCY})
    try:
        yield
    finally:
        release.set()
        # force: bullmq 3.4.4 close() can hang on an idle fetch (docs/throughput.md)
        await worker.close(force=True)


async def _wait_for(client: redis.Redis, key: str, count: int) -> None:
    for _ in range(200):  # bounded: at most ~10 s
        if client.llen(key) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{key} never reached {count}")


def test_it_should_count_waiting_prioritized_active_and_wake_on_delayed(
    redis_server: RedisServer, keda_client: redis.Redis, queue_name: str
) -> None:
    scaled = _scaled_object(queue_name)
    keys = QueueKeys("bull", queue_name)
    conn = redis_server.connection_kwargs("worker")
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        queue = Queue(queue_name, {"connection": conn})
        try:
            seen["empty"] = desired_replicas(scaled, keda_client)
            await queue.add("job", {}, {"delay": HOUR_MS})
            seen["delayed only"] = desired_replicas(scaled, keda_client)
            for _ in range(CONCURRENCY):
                await queue.add("job", {})
            async with _busy_worker(queue_name, conn):
                await _wait_for(keda_client, keys.active, CONCURRENCY)
                seen["busy, nothing waiting"] = desired_replicas(scaled, keda_client)
                for _ in range(4):
                    await queue.add("job", {})
                for priority in (1, 2, 3):
                    await queue.add("job", {}, {"priority": priority})
                seen["values"] = trigger_values(scaled, keda_client)
                seen["full"] = desired_replicas(scaled, keda_client)
        finally:
            await queue.obliterate(force=True)
            await queue.close()

    asyncio.run(scenario())
    assert seen["values"] == {"wait": 4, "prioritized": 3, "active": 2, "delayed": 1}
    assert seen["empty"] == 0
    assert seen["delayed only"] == 1, "delayed jobs must wake a queue at zero"
    # 2 active + 1 for the delayed job, 2 per replica: busy workers are not scaled in.
    assert seen["busy, nothing waiting"] == 2
    # (4 waiting + 3 prioritized + 2 active + 1 for delayed) / 2 per replica
    assert seen["full"] == 5


def test_it_should_read_the_keys_bullmq_writes(
    redis_server: RedisServer, keda_client: redis.Redis, queue_name: str
) -> None:
    """A wrong key prefix reads as an empty queue (or an ACL refusal), never the backlog."""
    right, wrong = _scaled_object(queue_name), _scaled_object(queue_name, prefix="bullmq")
    conn = redis_server.connection_kwargs("worker")

    async def stage() -> None:
        queue = Queue(queue_name, {"connection": conn})
        try:
            for _ in range(6):
                await queue.add("job", {})
            seen["right"] = desired_replicas(right, keda_client)
            try:
                seen["wrong"] = desired_replicas(wrong, keda_client)
            except redis.exceptions.ResponseError as exc:  # NOPERM outside the prefix
                seen["wrong"] = str(exc)
        finally:
            await queue.obliterate(force=True)
            await queue.close()

    seen: dict[str, Any] = {}
    asyncio.run(stage())
    assert seen["right"] == 3
    assert seen["wrong"] != 3

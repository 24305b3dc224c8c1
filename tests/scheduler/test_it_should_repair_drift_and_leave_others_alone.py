"""Drift is repaired and counted; schedules of other stacks and tools are left alone.

Drift: a scheduler deleted by hand (Redis restored without it), and a broken
chain (the next tick job gone, as when a worker dies between fetching a tick
and materializing the next one).
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from bullmq import Queue
from scheduler_harness import make_spec, pending_ticks, registrar, schedule, scheduler_count

from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis]


def test_it_should_repair_drift_and_leave_others_alone(
    redis_server: RedisServer, queue_name: str
) -> None:
    ours = make_spec(
        queue_name,
        [schedule(queue_name, "mine", cron="0 * * * *", timezone="Europe/Berlin")],
        owner=f"own-{queue_name}",
    )
    theirs = make_spec(
        queue_name, [schedule(queue_name, "theirs", cron="0 3 * * *")], owner=f"other-{queue_name}"
    )

    async def scenario() -> None:
        admin = aioredis.Redis(**redis_server.connection_kwargs("admin"), decode_responses=True)
        node = Queue(queue_name, {"connection": redis_server.connection_kwargs("scheduler")})
        try:
            await node.upsertJobScheduler("node-tool", {"every": 60_000, "tz": "UTC"}, "tick")
            async with registrar(redis_server, theirs) as reg:
                assert (await reg.reconcile()).created == ["theirs"]
            async with registrar(redis_server, ours) as reg:
                first = await reg.reconcile()
                assert first.created == ["mine"]
                assert set(first.foreign) == {f"{queue_name}/theirs", f"{queue_name}/node-tool"}
                # a scheduler deleted by hand
                await node.removeJobScheduler("mine")
                repaired = await reg.reconcile()
                assert repaired.repaired == {"mine": "scheduler missing"}
                # the next tick's job deleted: the chain is broken
                (job_id,) = await pending_ticks(redis_server, queue_name, "mine")
                await admin.zrem(f"bull:{queue_name}:delayed", job_id)
                await admin.delete(f"bull:{queue_name}:{job_id}")
                again = await reg.reconcile()
                assert again.repaired == {"mine": "next job missing"}
                assert len(await pending_ticks(redis_server, queue_name, "mine")) == 1
                assert (await reg.reconcile()).unchanged == ["mine"]
            # our stack stops declaring it: only ours goes
            async with registrar(
                redis_server, make_spec(queue_name, [], owner=f"own-{queue_name}")
            ) as reg:
                gone = await reg.reconcile()
            assert gone.removed == ["mine"]
            assert await node.isJobScheduler("theirs")
            assert await node.isJobScheduler("node-tool")
            assert await scheduler_count(redis_server, queue_name) == 2
        finally:
            await node.close()
            await admin.aclose()

    asyncio.run(scenario())

"""retention-enforce: events streams trimmed, old DLQ entries and old rollups deleted."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from scheduler_harness import make_spec, stage_job

from local_stack.redis_server import RedisServer
from workers.maintenance import run_maintenance

pytestmark = [pytest.mark.redis]


def test_it_should_enforce_retention(redis_server: RedisServer, queue_name: str) -> None:
    spec = make_spec(
        queue_name,
        [],
        scheduler={"eventsMaxLength": 100, "rollupRetentionSeconds": 7200},
        queue_overrides={"deadLetter": {"retentionSeconds": 3600}},
    )
    now = int(time.time() * 1000)
    dlq = f"{queue_name}-dlq"

    async def scenario() -> None:
        client = aioredis.Redis(**redis_server.connection_kwargs("worker"), decode_responses=True)
        # Inspections go through admin: the worker's ACL holds only what the code sends.
        admin = aioredis.Redis(**redis_server.connection_kwargs("admin"), decode_responses=True)
        try:
            async with client.pipeline(transaction=False) as pipe:
                for i in range(1000):
                    pipe.xadd(f"bull:{queue_name}:events", {"event": "added", "jobId": str(i)})
                await pipe.execute()
            await stage_job(client, dlq, "old", state="wait", created_ms=now - 2 * 3_600_000)
            await stage_job(client, dlq, "young", state="wait", created_ms=now - 60_000)
            index = f"bull:_platform:rollup-index:{queue_name}"
            for label, age_h in (("old", 5), ("new", 1)):
                await client.hset(f"bull:_platform:rollup:{queue_name}:{label}", "completed", 1)
                await client.zadd(index, {label: time.time() - age_h * 3600})
            report = await run_maintenance("retention-enforce", {}, redis=client, spec=spec)
            length = await admin.xlen(f"bull:{queue_name}:events")
            assert 100 <= length < 1000 and report["eventsTrimmed"][queue_name] == 1000 - length
            assert report["dlqRemoved"][dlq] == 1
            assert await client.lrange(f"bull:{dlq}:wait", 0, -1) == ["young"]
            assert not await client.exists(f"bull:{dlq}:old")
            assert report["rollupsRemoved"][queue_name] == 1
            assert await client.zrange(index, 0, -1) == ["new"]
            assert not await client.exists(f"bull:_platform:rollup:{queue_name}:old")
        finally:
            await client.aclose()
            await admin.aclose()

    asyncio.run(scenario())

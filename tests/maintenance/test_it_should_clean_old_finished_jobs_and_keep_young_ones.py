"""daily-cleanup removes completed/failed jobs older than the queue's retention, keeps the rest."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from scheduler_harness import make_spec, stage_job

from local_stack.redis_server import RedisServer
from workers.maintenance import run_maintenance

pytestmark = [pytest.mark.redis]


def test_it_should_clean_old_finished_jobs_and_keep_young_ones(
    redis_server: RedisServer, queue_name: str
) -> None:
    spec = make_spec(
        queue_name,
        [],
        queue_overrides={
            "removeOnComplete": {"ageSeconds": 3600, "count": 1000},
            "removeOnFail": {"ageSeconds": 7200, "count": 1000},
        },
    )
    now = int(time.time() * 1000)
    minute = 60_000

    async def scenario() -> None:
        client = aioredis.Redis(**redis_server.connection_kwargs("worker"), decode_responses=True)
        try:
            for job_id, state, age in (
                ("c-old", "completed", 120 * minute),
                ("c-young", "completed", 10 * minute),
                ("f-old", "failed", 180 * minute),
                ("f-young", "failed", 60 * minute),
            ):
                await stage_job(
                    client,
                    queue_name,
                    job_id,
                    state=state,
                    created_ms=now - age - 1000,
                    processed_ms=now - age - 500,
                    finished_ms=now - age,
                )
            report = await run_maintenance("daily-cleanup", {}, redis=client, spec=spec)
            assert report["removed"][queue_name] == {"completed": 1, "failed": 1}
            assert await client.zrange(f"bull:{queue_name}:completed", 0, -1) == ["c-young"]
            assert await client.zrange(f"bull:{queue_name}:failed", 0, -1) == ["f-young"]
            assert not await client.exists(f"bull:{queue_name}:c-old", f"bull:{queue_name}:f-old")
            assert (
                await client.exists(f"bull:{queue_name}:c-young", f"bull:{queue_name}:f-young") == 2
            )
            again = await run_maintenance("daily-cleanup", {}, redis=client, spec=spec)
            assert again["removed"][queue_name] == {"completed": 0, "failed": 0}
        finally:
            await client.aclose()

    asyncio.run(scenario())

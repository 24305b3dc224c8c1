"""metrics-aggregate: counts, throughput, average and p95 per queue and hour, stored with a TTL."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis
from scheduler_harness import make_spec, stage_job

from local_stack.redis_server import RedisServer
from workers.maintenance import run_maintenance
from workers.maintenance.rollups import HOUR_MS, hour_label, read_rollups

pytestmark = [pytest.mark.redis]


def test_it_should_roll_up_hourly_metrics(redis_server: RedisServer, queue_name: str) -> None:
    spec = make_spec(queue_name, [])
    now = int(time.time() * 1000)
    last_hour = now - now % HOUR_MS - HOUR_MS

    async def scenario() -> None:
        client = aioredis.Redis(**redis_server.connection_kwargs("worker"), decode_responses=True)
        # Inspections go through admin: the worker's ACL holds only what the code sends.
        admin = aioredis.Redis(**redis_server.connection_kwargs("admin"), decode_responses=True)
        try:
            for i in range(1, 21):  # 20 jobs of 1..20 s, finished in the last full hour
                finished = last_hour + i * 60_000
                await stage_job(
                    client,
                    queue_name,
                    f"c{i}",
                    state="completed",
                    created_ms=finished - i * 1000 - 5,
                    processed_ms=finished - i * 1000,
                    finished_ms=finished,
                )
            for i in range(3):
                await stage_job(
                    client,
                    queue_name,
                    f"f{i}",
                    state="failed",
                    created_ms=last_hour + 10,
                    processed_ms=last_hour + 20,
                    finished_ms=last_hour + 30 + i,
                )
            await stage_job(
                client,
                queue_name,
                "older",
                state="completed",
                created_ms=last_hour - 9,
                processed_ms=last_hour - 5,
                finished_ms=last_hour - 1,
            )
            report = await run_maintenance("metrics-aggregate", {}, redis=client, spec=spec)
            rollup = report["rollups"][queue_name][hour_label(last_hour)]
            assert rollup["completed"] == 20 and rollup["failed"] == 3
            assert rollup["processing_seconds_avg"] == pytest.approx(10.5)
            assert rollup["processing_seconds_p95"] == pytest.approx(19.0)
            assert rollup["throughput_per_second"] == pytest.approx(20 / 3600)
            stored = await read_rollups(client, spec, queue_name)
            assert stored[hour_label(last_hour)]["completed"] == 20
            ttl = await admin.ttl(f"bull:_platform:rollup:{queue_name}:{hour_label(last_hour)}")
            assert 0 < ttl <= spec.scheduler.rollup_retention_seconds
        finally:
            await client.aclose()
            await admin.aclose()

    asyncio.run(scenario())

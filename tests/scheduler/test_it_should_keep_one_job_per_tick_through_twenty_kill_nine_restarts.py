"""20 kill -9 / restart cycles of the scheduler, a cron and an `every` schedule side by side.

Ticks keep coming while no scheduler runs (the job schedulers live in Redis and
the worker materializes each next tick), every tick runs exactly once, and the
restarted scheduler serves /healthz and /metrics.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import httpx
import pytest
from scheduler_harness import (
    assert_one_job_per_tick,
    make_spec,
    pending_ticks,
    schedule,
    scheduler_count,
    start_scheduler,
    tick_recorder,
    write_spec,
)

from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.drill]
CYCLES = 20


def test_it_should_keep_one_job_per_tick_through_twenty_kill_nine_restarts(
    redis_server: RedisServer, queue_name: str, tmp_path: Path
) -> None:
    spec = make_spec(
        queue_name,
        [schedule(queue_name, "cron-1s"), schedule(queue_name, "every-1s", everyMs=1000)],
    )
    spec_file = write_spec(tmp_path / "spec.json", spec)
    rng = random.Random(11)

    async def scenario() -> None:
        async with tick_recorder(redis_server, queue_name) as recorder:
            first = await start_scheduler(redis_server, spec_file)
            await first.wait_reconciled()
            await first.kill()
            for cycle in range(CYCLES):
                proc = await start_scheduler(redis_server, spec_file)
                if cycle % 2:
                    await proc.wait_reconciled()  # killed after a full pass
                else:
                    await asyncio.sleep(rng.uniform(0.05, 0.6))  # killed mid start-up
                await proc.kill()
            last = await start_scheduler(redis_server, spec_file)
            try:
                report = await last.wait_reconciled()
                restarted_ms = int(time.time() * 1000)
                before = len(recorder.ticks("cron-1s"))
                await recorder.wait_ticks("cron-1s", before + 4)
                await recorder.wait_ticks("every-1s", len(recorder.ticks("every-1s")) + 1)
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{last.http_port}") as c:
                    health = await c.get("/healthz")
                    metrics = (await c.get("/metrics")).text
            finally:
                await last.kill()
        assert not report["errors"], report
        assert set(report["unchanged"]) == {"cron-1s", "every-1s"}, report
        assert await scheduler_count(redis_server, queue_name) == 2
        for sid in ("cron-1s", "every-1s"):
            assert len(await pending_ticks(redis_server, queue_name, sid)) <= 1
            figures = assert_one_job_per_tick(recorder.ticks(sid), ran_at=recorder.ran_at(sid))
            after = [t for t in recorder.ticks(sid) if t >= restarted_ms]
            assert after, f"{sid}: no tick after the last restart"
            print(f"{sid} over {CYCLES} kill -9 cycles: {figures}")
        assert health.status_code == 200 and health.json()["healthy"]
        assert "bullmq_scheduler_schedules_registered 2.0" in metrics
        labels = f'{{queue="{queue_name}",schedule="cron-1s"}}'
        next_fire = f"bullmq_schedule_next_fire_timestamp_seconds{labels}"
        assert next_fire in metrics

    asyncio.run(scenario())

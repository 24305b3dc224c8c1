"""3 scheduler replicas started at the same instant register a schedule once.

Pins taskforcesh/bullmq#2988 / #3272 (duplicate next jobs or a stalled
scheduler when several instances upsert at once): only the replica holding the
leader lock writes, the others find the schedule in place.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

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

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def test_it_should_register_once_when_three_replicas_start_together(
    redis_server: RedisServer, queue_name: str, tmp_path: Path
) -> None:
    spec = make_spec(queue_name, [schedule(queue_name, "every-second")])
    spec_file = write_spec(tmp_path / "spec.json", spec)

    async def scenario() -> None:
        async with tick_recorder(redis_server, queue_name) as recorder:
            replicas = await asyncio.gather(
                *[start_scheduler(redis_server, spec_file) for _ in range(3)]
            )
            try:
                reports = [await r.wait_reconciled() for r in replicas]
                started_ms = int(time.time() * 1000)
                await recorder.wait_ticks("every-second", 6)
            finally:
                for r in replicas:
                    await r.kill()
            created = [r for r in reports if "every-second" in r["created"]]
            assert not any(r["errors"] for r in reports), reports
            assert len(created) == 1, reports
            assert all("every-second" in r["created"] + r["unchanged"] for r in reports), reports
            assert await scheduler_count(redis_server, queue_name) == 1
            assert len(await pending_ticks(redis_server, queue_name, "every-second")) <= 1
            figures = assert_one_job_per_tick(
                recorder.ticks("every-second"),
                ran_at=recorder.ran_at("every-second"),
                since_ms=started_ms,
            )
            print(f"3 replicas: {figures}")

    asyncio.run(scenario())

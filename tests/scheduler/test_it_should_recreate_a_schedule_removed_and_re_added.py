"""A schedule removed from the spec disappears; added back, it ticks again, once per tick.

Pins taskforcesh/bullmq#3063 (remove then re-add created no next job): after
the re-add the next job must exist and ticks must resume.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from scheduler_harness import (
    assert_one_job_per_tick,
    make_spec,
    pending_ticks,
    registrar,
    schedule,
    scheduler_count,
    tick_recorder,
)

from local_stack.redis_server import RedisServer

pytestmark = [pytest.mark.redis]


def test_it_should_recreate_a_schedule_removed_and_re_added(
    redis_server: RedisServer, queue_name: str
) -> None:
    with_it = make_spec(queue_name, [schedule(queue_name, "again")], owner=f"own-{queue_name}")
    without = make_spec(queue_name, [], owner=f"own-{queue_name}")

    async def scenario() -> None:
        async with tick_recorder(redis_server, queue_name) as recorder:
            async with registrar(redis_server, with_it) as reg:
                assert (await reg.reconcile()).created == ["again"]
            await recorder.wait_ticks("again", 2)
            async with registrar(redis_server, without) as reg:
                report = await reg.reconcile()
            assert report.removed == ["again"]
            assert await scheduler_count(redis_server, queue_name) == 0
            assert await pending_ticks(redis_server, queue_name, "again") == []
            async with registrar(redis_server, with_it) as reg:
                readded = await reg.reconcile()
                readded_ms = int(time.time() * 1000)
                assert readded.created == ["again"]
                assert len(await pending_ticks(redis_server, queue_name, "again")) == 1
                await recorder.wait_ticks("again", len(recorder.ticks("again")) + 3)
                assert (await reg.reconcile()).unchanged == ["again"]
        assert await scheduler_count(redis_server, queue_name) == 1
        ticks = recorder.ticks("again")
        figures = assert_one_job_per_tick(
            [t for t in ticks if t >= readded_ms], ran_at=recorder.ran_at("again")
        )
        assert len(ticks) == len(set(ticks))
        print(f"removed and re-added: {figures}")

    asyncio.run(scenario())

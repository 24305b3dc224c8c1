"""A schedule whose cron changes is updated in place: one scheduler, ticks on the new grid."""

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


def test_it_should_follow_a_cron_change_with_one_schedule(
    redis_server: RedisServer, queue_name: str
) -> None:
    owner = f"own-{queue_name}"
    every_second = make_spec(queue_name, [schedule(queue_name, "cc")], owner=owner)
    every_two = make_spec(
        queue_name, [schedule(queue_name, "cc", cron="*/2 * * * * *")], owner=owner
    )

    async def scenario() -> None:
        async with tick_recorder(redis_server, queue_name) as recorder:
            async with registrar(redis_server, every_second) as reg:
                await reg.reconcile()
            await recorder.wait_ticks("cc", 2)
            async with registrar(redis_server, every_two) as reg:
                report = await reg.reconcile()
                changed_ms = int(time.time() * 1000)
                assert report.updated == ["cc"], report
                await recorder.wait_ticks("cc", len(recorder.ticks("cc")) + 3)
                assert (await reg.reconcile()).unchanged == ["cc"]
        assert await scheduler_count(redis_server, queue_name) == 1
        assert len(await pending_ticks(redis_server, queue_name, "cc")) <= 1
        after = [t for t in recorder.ticks("cc") if t > changed_ms]
        assert all(t % 2000 == 0 for t in after), after
        figures = assert_one_job_per_tick(after, period_ms=2000, ran_at=recorder.ran_at("cc"))
        print(f"cron change to */2: {figures}")

    asyncio.run(scenario())

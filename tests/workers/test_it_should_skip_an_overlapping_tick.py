"""`overlap: skip`: a tick whose previous run is still active completes as skipped, unrun."""

from __future__ import annotations

import asyncio

import pytest
from conftest import get_job, producer, running_worker, wait_finished, wait_for

from local_stack.redis_server import RedisServer
from platform_spec.model import PlatformSpec
from workers.runs import SKIPPED_RESULT

pytestmark = pytest.mark.redis


def _spec(queue: str, overlap: str) -> PlatformSpec:
    q = {
        "name": queue,
        "handler": "worker_test_handlers",
        "jobs": [{"name": "sleep"}],
        "concurrency": 4,
        "attempts": 1,
        "jobTimeoutSeconds": 20,
    }
    tick = {"name": "slow", "cron": "0 * * * *", "queue": queue, "jobName": "sleep"}
    return PlatformSpec.model_validate(
        {
            "environment": "dev",
            "queues": [q],
            "schedules": [{**tick, "overlap": overlap}],
            "maintenanceQueue": queue,
        }
    )


@pytest.mark.parametrize(("overlap", "second_runs"), [("skip", False), ("allow", True)])
def test_it_should_skip_a_tick_only_while_an_earlier_one_runs(
    redis_server: RedisServer, queue_name: str, overlap: str, second_runs: bool
) -> None:
    async def scenario() -> None:
        spec = _spec(queue_name, overlap)
        async with running_worker(redis_server, spec), producer(redis_server, queue_name) as q:
            first = await q.add("sleep", {"seconds": 1.5}, {"jobId": "repeat:slow:1000"})

            async def first_active() -> bool:
                return bool(await q.getJobState("repeat:slow:1000") == "active")

            # Wait for the first tick to run (a fixed 0.3 s was too short under load).
            assert await wait_for(first_active), "the first tick never became active"
            second = await q.add("sleep", {"seconds": 0}, {"jobId": "repeat:slow:2000"})
            assert await wait_finished(q, second.id) == "completed"
            assert await wait_finished(q, first.id) == "completed"
            result = (await get_job(q, second.id)).returnvalue
            assert (result != SKIPPED_RESULT) is second_runs, result
            assert (await get_job(q, first.id)).returnvalue["slept"] == 1.5

    asyncio.run(scenario())
